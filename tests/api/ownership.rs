//! One writer per listing across processes: two server processes on one PostgreSQL database
//! never both sell a room, a paused owner cannot commit after another process took over, and a
//! second process on a SQLite file refuses to start.

use crate::faults::held_orders;
use crate::helpers::*;
use crate::process::ServerProcess;
use reqwest::StatusCode;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use uuid::Uuid;

/// Sends `n` orders through `api` at once, spread over `buyers`; the created order ids and the
/// other answers by code.
async fn burst(
    api: &Api,
    buyers: &[User],
    room: Uuid,
    listing: Uuid,
    n: usize,
) -> (Vec<String>, HashMap<String, usize>) {
    let answers = futures_util::future::join_all((0..n).map(|i| {
        let buyer = &buyers[i % buyers.len()];
        async move {
            let res = api.order(buyer, room, listing, json!(1), None).await;
            let status = res.status();
            let body: serde_json::Value = res.json().await.unwrap_or_default();
            (status, body)
        }
    }))
    .await;
    let mut created = Vec::new();
    let mut other = HashMap::new();
    for (status, body) in answers {
        if status == StatusCode::CREATED {
            created.push(body["id"].as_str().expect("id").to_owned());
        } else {
            let code = format!("{} {}", status.as_u16(), body["error"].as_str().unwrap_or("?"));
            *other.entry(code).or_insert(0) += 1;
        }
    }
    (created, other)
}

#[actix_web::test]
async fn two_processes_on_one_postgres_never_both_sell_and_a_paused_owner_is_fenced_off() {
    const STOCK: u64 = 100;
    let database = fresh_database(Backend::Postgres);
    let lease = [("LIVECART__OWNERSHIP__LEASE_TTL_MS", "1500")];
    let a = ServerProcess::start(&database.url, &lease).await;
    let b = ServerProcess::start(&database.url, &lease).await;
    let (api_a, api_b) = (Api::new(a.address.clone()), Api::new(b.address.clone()));
    let merchant = api_a.merchant().await;
    // Starting the room through A loads it there: A owns it.
    let room = api_a.live_room(&merchant).await;
    let listing = api_a.simple_listing(&merchant, room, STOCK, 10_000).await;
    let buyers = api_a.guests(20).await;
    let mut acknowledged: HashSet<String> = HashSet::new();

    // Both processes are hammered at once: exactly one of them sells.
    let ((sold_a, refused_a), (sold_b, refused_b)) = futures_util::join!(
        burst(&api_a, &buyers, room, listing, 50),
        burst(&api_b, &buyers, room, listing, 50),
    );
    assert_eq!(sold_a.len(), 50, "the owner sells: {refused_a:?}");
    assert!(sold_b.is_empty(), "the other process sold too: {} orders", sold_b.len());
    assert_eq!(
        refused_b.keys().collect::<Vec<_>>(),
        vec!["503 unavailable"],
        "{refused_b:?}"
    );
    acknowledged.extend(sold_a);

    // A freezes past its lease; B takes the room over and sells the rest.
    a.pause();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let (sold_b, refused_b) = burst(&api_b, &buyers, room, listing, 80).await;
    assert_eq!(sold_b.len(), 50, "B sold what was left: {refused_b:?}");
    assert_eq!(refused_b.get("409 sold_out"), Some(&30), "{refused_b:?}");
    acknowledged.extend(sold_b);

    // A wakes up still believing 50 units are left: it must not commit a single order.
    a.resume();
    let (sold_a, refused_a) = burst(&api_a, &buyers, room, listing, 40).await;
    assert!(
        sold_a.is_empty(),
        "the stale owner sold {} more: {refused_a:?}",
        sold_a.len()
    );
    assert!(
        refused_a
            .keys()
            .all(|code| code == "503 unavailable" || code == "409 sold_out"),
        "{refused_a:?}"
    );

    let stored = held_orders(&database.url, listing);
    let units: i32 = stored.iter().map(|(_, q)| q).sum();
    assert_eq!(units as u64, STOCK, "no unit oversold");
    let stored_ids: HashSet<String> = stored.into_iter().map(|(id, _)| id).collect();
    assert_eq!(
        stored_ids, acknowledged,
        "the database holds exactly the acknowledged orders"
    );
    assert_eq!(api_b.stock_left(room, listing).await, 0);
    drop(b);
}

#[actix_web::test]
async fn a_second_process_on_the_same_sqlite_file_refuses_to_start() {
    let database = fresh_database(Backend::Sqlite);
    let first = ServerProcess::start(&database.url, &[]).await;
    let mut second = ServerProcess::spawn(&database.url, &[]);
    let code = second.exit_code(Duration::from_secs(30)).await;
    assert_ne!(code, Some(0), "the second process must not run");
    let log = second.log_text();
    assert!(log.contains("in use by another livecart process"), "log: {log}");
    let api = Api::new(first.address.clone());
    let merchant = api.merchant().await;
    let room = api.live_room(&merchant).await;
    let listing = api.simple_listing(&merchant, room, 1, 1).await;
    let buyer = api.guest().await;
    expect_status(
        api.order(&buyer, room, listing, json!(1), None).await,
        StatusCode::CREATED,
    )
    .await;
}

/// Another owner's takeover, written straight into the lease table: a newer epoch, held by a
/// live session (the test's own connection, kept open) so this app cannot take it back.
fn take_over(database_url: &str, room: Uuid) -> Box<dyn std::any::Any> {
    use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};
    let sql = "UPDATE live_room_leases SET epoch = epoch + 1, owner = 'another-node', expires_at = 9000000000000";
    match database_url.strip_prefix("sqlite://") {
        Some(path) => {
            let mut conn = SqliteConnection::establish(path).expect("sqlite");
            diesel::sql_query(format!("{sql} WHERE room_id = '{room}'"))
                .execute(&mut conn)
                .expect("take over");
            Box::new(())
        }
        None => {
            let mut conn = PgConnection::establish(database_url).expect("postgres");
            diesel::sql_query(format!(
                "{sql}, owner_pid = pg_backend_pid(), owner_started = (SELECT (extract(epoch FROM backend_start) * 1000000)::bigint \
                 FROM pg_stat_activity WHERE pid = pg_backend_pid()) WHERE room_id = '{room}'"
            ))
            .execute(&mut conn)
            .expect("take over");
            Box::new(conn)
        }
    }
}

on_both_backends! {
    async fn a_stale_owner_cannot_commit_once_a_newer_epoch_exists(backend) {
        // Leases renewed rarely, so only the journal's fence stands between the stale actor and
        // the database.
        let database = fresh_database(backend);
        let app = spawn_app_with(database.url.clone(), |s| s.ownership.lease_ttl_ms = 120_000).await;
        let merchant = app.merchant().await;
        let room = app.live_room(&merchant).await;
        let listing = app.simple_listing(&merchant, room, 10, 10).await;
        let buyer = app.guest().await;
        expect_status(app.order(&buyer, room, listing, json!(1), None).await, StatusCode::CREATED).await;

        let _newer_owner = take_over(&database.url, room);
        // The actor still believes it owns the room and has 9 units; the journal knows better.
        let res = app.order(&buyer, room, listing, json!(1), Some("after-takeover")).await;
        expect_error(res, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
        assert_eq!(app.stored_orders(listing).await.len(), 1, "nothing was written under the old epoch");
        if backend == Backend::Postgres {
            // The other owner's session is alive: this node serves nothing for the room.
            let res = app.order(&buyer, room, listing, json!(1), None).await;
            expect_error(res, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
            assert_eq!(app.stored_orders(listing).await.len(), 1);
        } else {
            // SQLite: this process holds the file, so it takes the room back under a newer epoch.
            expect_status(app.order(&buyer, room, listing, json!(1), None).await, StatusCode::CREATED).await;
            assert_eq!(app.stored_orders(listing).await.len(), 2);
        }
    }
}
