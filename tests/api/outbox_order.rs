//! The outbox relay reads events by position (`seq` above the last it published), so an event
//! must never commit after one with a higher seq: the relay would have moved past it. On
//! PostgreSQL a sequence number is taken at insert, not at commit, so appenders take the outbox's
//! advisory lock and commit one after the other (SQLite writes one transaction at a time).

use crate::helpers::*;
use diesel::connection::Connection;
use livecart::infrastructure::db::{migrate, Connector, DbConnection};
use livecart::infrastructure::repos::outbox;
use livecart_actors::events::{DomainEvent, EventPayload};
use livecart_actors::ids::new_id;
use std::sync::mpsc;
use std::time::Duration;

fn started() -> DomainEvent {
    DomainEvent::new(chrono::Utc::now(), EventPayload::LiveStarted { room_id: new_id() })
}

#[test]
fn an_append_waits_for_the_open_transaction_that_appended_before_it_on_postgres() {
    let database = fresh_database(Backend::Postgres);
    let connector = Connector::new(&database.url);
    let mut first: DbConnection = connector.connect().expect("a connection");
    migrate::run_pending(&mut first).expect("migrated");
    let mut second: DbConnection = connector.connect().expect("a second connection");
    let (earlier, later) = (started(), started());

    let (appended_tx, appended) = mpsc::channel();
    let (go_tx, go) = mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        first
            .transaction(|conn| {
                outbox::append(conn, &[&earlier])?;
                let _ = appended_tx.send(());
                // Holds its transaction open, as a journal batch between insert and commit.
                let _ = go.recv_timeout(Duration::from_secs(30));
                diesel::QueryResult::Ok(())
            })
            .expect("the first transaction commits");
    });
    appended
        .recv_timeout(Duration::from_secs(10))
        .expect("the first append");

    let (done_tx, done) = mpsc::channel();
    let later_id = later.id;
    let rival = std::thread::spawn(move || {
        second
            .transaction(|conn| outbox::append(conn, &[&later]))
            .expect("the second transaction commits");
        let _ = done_tx.send(());
    });
    // The rival's append must wait for the open transaction; without the lock it would take
    // its (higher) seq and commit at once, ahead of the lower one.
    assert!(
        done.recv_timeout(Duration::from_millis(500)).is_err(),
        "an append committed while an earlier one was still open"
    );
    go_tx.send(()).expect("the holder waits");
    holder.join().expect("the holder");
    done.recv_timeout(Duration::from_secs(10))
        .expect("the rival commits once the holder has");
    rival.join().expect("the rival");

    let last = format!("SELECT seq AS n FROM outbox_batches WHERE events LIKE '%{later_id}%'");
    let first_seq = "SELECT MIN(seq) AS n FROM outbox_batches";
    assert!(
        query_number(&database.url, first_seq) < query_number(&database.url, &last),
        "the later commit holds the higher seq"
    );
}
