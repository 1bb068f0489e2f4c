//! A viewer's session outlives its connection: the server keeps where the viewer's chat stood
//! and which buys were unanswered, so a viewer who reconnects without a position of its own (a
//! reloaded page, a client that lost its state, a restarted server) resumes the chat exactly,
//! and gets the answer to a buy it sent before the drop without a second order. With Redis
//! configured the snapshot lives there, without it in the SQL database.

use crate::faults::held_orders;
use crate::helpers::*;
use crate::ws_client::WsClient;
use diesel::{Connection, PgConnection, RunQueryDsl};
use serde_json::json;
use std::time::Duration;

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Waits until the room counts `count` distinct viewers, as `observer` is told.
async fn until_viewers(observer: &mut WsClient, count: u64) {
    observer.until(|f| f["type"] == "viewers" && f["count"] == count).await;
}

/// A viewer drops after the first message, the chat goes on, and the viewer comes back, to
/// the same server or (with `restart`) to the next one, without saying where it was.
async fn the_chat_resumes_where_the_last_connection_ended(backend: Backend, redis: Option<String>, restart: bool) {
    let settings = move |s: &mut livecart::settings::Settings| s.redis.url = redis.clone().unwrap_or_default();
    let app = spawn_app_with(fresh_database(backend), settings.clone()).await;
    let merchant = app.merchant().await;
    let room = app.live_room(&merchant).await;
    let (viewer, talker) = (app.guest().await, app.guest().await);
    let (mut talking, _) = app.ws(room, &talker.token).await;
    let (mut watching, welcome) = app.ws(room, &viewer.token).await;
    let epoch = welcome["epoch"].as_u64().expect("epoch");
    until_viewers(&mut talking, 2).await;

    talking.send_json(json!({"type": "chat", "text": "one"})).await;
    let one = watching.until(|f| f["type"] == "chat" && f["text"] == "one").await;
    watching.close().await;
    // The session has ended once the room no longer counts the viewer; its snapshot is queued.
    until_viewers(&mut talking, 1).await;
    for text in ["two", "three"] {
        talking.send_json(json!({"type": "chat", "text": text})).await;
        talking.until(|f| f["type"] == "chat" && f["text"] == text).await;
    }
    talking.close().await;

    let app = if restart {
        let database = app.stop().await;
        spawn_app_with(database, settings).await
    } else {
        app
    };
    let (mut back, welcome) = app.ws(room, &viewer.token).await;
    assert_eq!(welcome["epoch"].as_u64(), Some(epoch), "{welcome}");
    assert_eq!(
        welcome["recovered"], true,
        "resumed from the server's snapshot: {welcome}"
    );
    let two = back.next_json().await;
    let three = back.next_json().await;
    assert_eq!(
        (two["text"].as_str(), three["text"].as_str()),
        (Some("two"), Some("three")),
        "exactly the missed messages, in order: {two} {three}"
    );
    assert_eq!(two["offset"].as_u64(), one["offset"].as_u64().map(|o| o + 1), "{two}");
}

on_both_backends! {
    async fn a_viewer_back_without_a_position_resumes_the_chat_in_sql(backend) {
        the_chat_resumes_where_the_last_connection_ended(backend, None, false).await;
    }

    async fn a_viewer_back_without_a_position_resumes_the_chat_in_redis(backend) {
        the_chat_resumes_where_the_last_connection_ended(backend, Some(redis_url()), false).await;
    }

    async fn a_viewer_back_after_a_restart_resumes_the_chat_in_sql(backend) {
        the_chat_resumes_where_the_last_connection_ended(backend, None, true).await;
    }

    async fn a_viewer_back_after_a_restart_resumes_the_chat_in_redis(backend) {
        the_chat_resumes_where_the_last_connection_ended(backend, Some(redis_url()), true).await;
    }
}

/// Takes a lock on the orders table from outside: the journal's commits wait until it is let go,
/// so a buy stays on its way for as long as the test needs.
fn lock_orders(url: &str) -> PgConnection {
    let mut lock = PgConnection::establish(url).expect("a direct connection");
    diesel::sql_query("BEGIN").execute(&mut lock).expect("begin");
    diesel::sql_query("LOCK TABLE orders_orders IN EXCLUSIVE MODE")
        .execute(&mut lock)
        .expect("the orders table locked");
    lock
}

fn unlock_orders(mut lock: PgConnection) {
    diesel::sql_query("COMMIT")
        .execute(&mut lock)
        .expect("the lock released");
}

/// A buy is on its way to the database when the viewer's connection drops. Back on a new
/// connection, without sending anything, the viewer gets the buy's answer, and one order exists.
/// Then a buy sent twice while on its way is placed once and answered once.
/// On PostgreSQL only: a lock on the orders table stops the journal without stopping the
/// snapshot writes, which SQLite's single writer lock would not allow.
async fn a_buy_cut_off_by_a_drop_is_answered_on_reconnect(redis: Option<String>) {
    let database = fresh_database(Backend::Postgres);
    let url = database.url.clone();
    let app = spawn_app_with(database, move |s| {
        s.redis.url = redis.unwrap_or_default();
        // The buy waits on the lock for as long as the test holds it: no 503 meanwhile.
        s.orders.deadline_ms = 60_000;
        s.orders.commit_timeout_ms = 60_000;
    })
    .await;
    let merchant = app.merchant().await;
    let room = app.live_room(&merchant).await;
    let listing = app.simple_listing(&merchant, room, 5, 5).await;
    let buyer = app.guest().await;
    let (mut observer, _) = app.ws(room, &merchant.token).await;
    let (mut first, _) = app.ws(room, &buyer.token).await;
    until_viewers(&mut observer, 2).await;

    let lock = lock_orders(&url);
    let buy = json!({"type": "buy", "request_id": "cut-off", "listing_id": listing, "quantity": 1});
    first.send_json(buy.clone()).await;
    first.close().await;
    until_viewers(&mut observer, 1).await;
    let (mut back, _) = app.ws(room, &buyer.token).await;
    unlock_orders(lock);

    let answer = back.until_type("order").await;
    assert_eq!(answer["request_id"], "cut-off", "{answer}");
    let order_id = answer["order"]["id"]
        .as_str()
        .expect("an order, not an error")
        .to_owned();
    assert_eq!(
        held_orders(&url, listing),
        vec![(order_id.clone(), 1)],
        "one order for the one buy"
    );
    back.send_json(buy).await;
    let again = back.until_type("order").await;
    assert_eq!(
        again["order"]["id"],
        order_id.as_str(),
        "resent later, it answers with the same order"
    );

    let lock = lock_orders(&url);
    let twice = json!({"type": "buy", "request_id": "twice", "listing_id": listing, "quantity": 1});
    back.send_json(twice.clone()).await;
    back.send_json(twice).await;
    // Both frames are read before the lock goes: a ping sent after them is answered first.
    back.send_json(json!({"type": "ping"})).await;
    back.until_type("pong").await;
    unlock_orders(lock);
    let answer = back.until_type("order").await;
    assert_eq!(answer["request_id"], "twice", "{answer}");
    assert!(
        back.none_of_type_within("order", Duration::from_millis(500)).await,
        "a frame resent while its buy is on its way gets that buy's answer, once"
    );
    assert_eq!(held_orders(&url, listing).len(), 2);
}

#[actix_web::test]
async fn a_buy_cut_off_by_a_drop_is_answered_on_reconnect_in_sql() {
    a_buy_cut_off_by_a_drop_is_answered_on_reconnect(None).await;
}

#[actix_web::test]
async fn a_buy_cut_off_by_a_drop_is_answered_on_reconnect_in_redis() {
    a_buy_cut_off_by_a_drop_is_answered_on_reconnect(Some(redis_url())).await;
}
