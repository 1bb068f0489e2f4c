//! A listing outlives its actor: stopped cleanly, it writes a snapshot of what its orders hold,
//! stamped with its journal position, and the next process starts it from that snapshot without
//! reading any of its orders. A snapshot behind the journal is ignored: the listing is rebuilt
//! from its orders, to the same state. With Redis (the PostgreSQL runs) the snapshot lives there,
//! without it in the SQL database. The servers run as processes, so `/metrics` is theirs alone.

use crate::helpers::*;
use crate::process::ServerProcess;
use livecart::infrastructure::db::{build_pool, Connector};
use livecart::infrastructure::repos::Storage;
use livecart::infrastructure::snapshots::{RedisSnapshots, SqlSnapshots};
use livecart_actors::inventory::StoredHoldings;
use livecart_actors::snapshot::{ListingSnapshot, SnapshotStore};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

const LIMIT: u32 = 3;

/// Redis for the PostgreSQL runs, so each scenario covers both snapshot stores.
fn redis_for(backend: Backend) -> Option<String> {
    (backend == Backend::Postgres)
        .then(|| std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()))
}

async fn start(database: &TestDatabase, redis: &Option<String>) -> ServerProcess {
    let mut env = vec![("LIVECART__SERVER__SHUTDOWN_TIMEOUT_S", "10")];
    if let Some(url) = redis {
        env.push(("LIVECART__REDIS__URL", url));
    }
    ServerProcess::start(&database.url, &env).await
}

/// A server with a live room and one listing of plenty of stock, limited per buyer.
async fn open_sale(database: &TestDatabase, redis: &Option<String>) -> (ServerProcess, Uuid, Uuid) {
    let server = start(database, redis).await;
    let api = Api::new(server.address.clone());
    let merchant = api.merchant().await;
    let room = api.live_room(&merchant).await;
    let listing = api.simple_listing(&merchant, room, 10_000, LIMIT).await;
    (server, room, listing)
}

async fn stop(mut server: ServerProcess) {
    server.terminate();
    let code = server.exit_code(Duration::from_secs(20)).await;
    assert_eq!(code, Some(0), "a clean exit; log: {}", server.log_text());
}

fn storage(database: &TestDatabase) -> Storage {
    let connector = Connector::new(&database.url);
    Storage::new(build_pool(connector.clone(), 2).expect("pool"), &connector)
}

/// The snapshot store the server writes to, opened by the test to read and rewind it.
fn store(database: &TestDatabase, redis: &Option<String>) -> Arc<dyn SnapshotStore> {
    match redis {
        Some(url) => Arc::new(RedisSnapshots::new(
            livecart::infrastructure::redis_pool::build(url).expect("pool"),
        )),
        None => Arc::new(SqlSnapshots::new(storage(database))),
    }
}

/// What the orders table holds for the listing, as a rebuild reads it, in the snapshot's order.
async fn rebuilt(database: &TestDatabase, listing: Uuid) -> StoredHoldings {
    let mut holdings = storage(database)
        .holdings_of_listings(vec![listing])
        .await
        .expect("orders readable");
    let mut held = holdings.remove(&listing).unwrap_or_default();
    held.settled.sort();
    held.reserved.sort_by_key(|order| order.order_id);
    held
}

async fn kept(store: &dyn SnapshotStore, listing: Uuid) -> Option<ListingSnapshot> {
    store
        .load_listings(vec![listing])
        .await
        .expect("snapshots readable")
        .remove(&listing)
}

/// The value of one series of `/metrics` (0 when absent).
async fn metric(api: &Api, series: &str) -> f64 {
    let text = api.get("/metrics", None).await.text().await.expect("metrics text");
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// A sale with some history: every buyer reserves up to the limit one unit at a time, some
/// cancel one, some pay one (the sandbox provider calls back). Returns the order ids by buyer.
async fn sell(api: &Api, buyers: &[User], room: Uuid, listing: Uuid) -> Vec<Vec<Uuid>> {
    let mut orders = Vec::new();
    for (i, buyer) in buyers.iter().enumerate() {
        let mut mine = Vec::new();
        for _ in 0..LIMIT {
            let res = api.order(buyer, room, listing, json!(1), None).await;
            mine.push(id_of(expect_status(res, StatusCode::CREATED).await));
        }
        if i % 3 == 0 {
            let res = api
                .post(&format!("/v1/orders/{}/cancel", mine[0]), Some(&buyer.token), json!({}))
                .await;
            expect_status(res, StatusCode::OK).await;
        }
        if i % 4 == 1 {
            let res = api
                .post(&format!("/v1/orders/{}/pay", mine[1]), Some(&buyer.token), json!({}))
                .await;
            expect_status(res, StatusCode::OK).await;
        }
        orders.push(mine);
    }
    for (i, buyer) in buyers.iter().enumerate().filter(|(i, _)| i % 4 == 1) {
        wait_until_paid(api, buyer, orders[i][1]).await;
    }
    orders
}

async fn wait_until_paid(api: &Api, buyer: &User, order: Uuid) {
    for _ in 0..200 {
        let body: Value = api
            .get(&format!("/v1/orders/{order}"), Some(&buyer.token))
            .await
            .json()
            .await
            .expect("json");
        if body["status"] == "paid" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("order {order} was not paid in time");
}

/// What a listing does next, as buyers see it: a buyer at the limit is refused, one below it
/// gets a unit, and the stock left is what it was less that unit.
async fn behaves_as_before(api: &Api, buyers: &[User], room: Uuid, listing: Uuid, left: u64) {
    let at_limit = &buyers[1];
    expect_error(
        api.order(at_limit, room, listing, json!(1), None).await,
        StatusCode::CONFLICT,
        "limit_exceeded",
    )
    .await;
    let below_limit = &buyers[0]; // cancelled one of three
    expect_status(
        api.order(below_limit, room, listing, json!(1), None).await,
        StatusCode::CREATED,
    )
    .await;
    expect_error(
        api.order(below_limit, room, listing, json!(1), None).await,
        StatusCode::CONFLICT,
        "limit_exceeded",
    )
    .await;
    assert_eq!(api.stock_left(room, listing).await, left - 1);
}

on_both_backends! {
    async fn a_listing_restarts_from_its_snapshot_without_reading_its_orders(backend) {
        let (database, redis) = (fresh_database(backend), redis_for(backend));
        let (server, room, listing) = open_sale(&database, &redis).await;
        let api = Api::new(server.address.clone());
        let buyers = api.guests(40).await;
        sell(&api, &buyers, room, listing).await;
        let left = api.stock_left(room, listing).await;
        stop(server).await;

        let position = query_number(&database.url, &format!("SELECT journal_position AS n FROM catalog_listings WHERE id = '{listing}'"));
        assert!(position >= 130, "every order, cancel and payment advanced the position: {position}");
        let snapshot = kept(&*store(&database, &redis), listing).await.expect("a snapshot was written at the stop");
        assert_eq!(snapshot.position, position as u64, "the snapshot is stamped with the journal position");
        assert_eq!(snapshot.holdings, rebuilt(&database, listing).await, "the snapshot holds what the orders hold");
        assert!(!snapshot.holdings.settled.is_empty() && !snapshot.holdings.reserved.is_empty());

        let server = start(&database, &redis).await;
        let api = Api::new(server.address.clone());
        behaves_as_before(&api, &buyers, room, listing, left).await;
        assert_eq!(metric(&api, "livecart_listing_loads_total{from=\"snapshot\"}").await, 1.0);
        assert_eq!(metric(&api, "livecart_listing_loads_total{from=\"orders\"}").await, 0.0);
        assert_eq!(metric(&api, "livecart_listing_load_order_rows_total").await, 0.0, "no order row was read");
        stop(server).await;
    }

    async fn a_snapshot_behind_the_journal_is_ignored_and_the_rebuild_agrees(backend) {
        let (database, redis) = (fresh_database(backend), redis_for(backend));
        let (server, room, listing) = open_sale(&database, &redis).await;
        let api = Api::new(server.address.clone());
        let early = api.guests(12).await;
        sell(&api, &early, room, listing).await;
        stop(server).await;
        let store = store(&database, &redis);
        let behind = kept(&*store, listing).await.expect("a snapshot was written at the stop");

        // More sales, then the older snapshot is put back: it misses what came after it.
        let server = start(&database, &redis).await;
        let api = Api::new(server.address.clone());
        let buyers = api.guests(12).await;
        sell(&api, &buyers, room, listing).await;
        let left = api.stock_left(room, listing).await;
        stop(server).await;
        let current = kept(&*store, listing).await.expect("a newer snapshot");
        assert!(current.position > behind.position);
        assert_eq!(current.holdings, rebuilt(&database, listing).await, "the current snapshot agrees with the orders");
        store.save_listing(listing, behind).await.expect("the old snapshot put back");

        let server = start(&database, &redis).await;
        let api = Api::new(server.address.clone());
        behaves_as_before(&api, &buyers, room, listing, left).await;
        for early_buyer in &early[1..2] {
            expect_error(api.order(early_buyer, room, listing, json!(1), None).await, StatusCode::CONFLICT, "limit_exceeded").await;
        }
        assert_eq!(metric(&api, "livecart_listing_loads_total{from=\"snapshot\"}").await, 0.0);
        assert_eq!(metric(&api, "livecart_listing_loads_total{from=\"orders\"}").await, 1.0);
        assert!(metric(&api, "livecart_listing_load_order_rows_total").await > 0.0);
        stop(server).await;
    }
}

/// Whether Redis holds `key` within `within`.
async fn appears(redis: &mut deadpool_redis::redis::aio::MultiplexedConnection, key: &str, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        let found: i64 = deadpool_redis::redis::cmd("EXISTS")
            .arg(key)
            .query_async(redis)
            .await
            .expect("EXISTS");
        if found == 1 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

on_both_backends! {
    async fn snapshots_are_written_again_when_redis_loses_them(backend) {
        let redis = crate::redis_server::RedisServer::start().await;
        let url = redis.url();
        let app = spawn_app_with(fresh_database(backend), move |s| s.redis.url = url).await;
        let merchant = app.merchant().await;
        let room = app.live_room(&merchant).await;
        let listing = app.simple_listing(&merchant, room, 100, LIMIT).await;
        let buyer = app.guest().await;
        expect_status(app.order(&buyer, room, listing, json!(1), None).await, StatusCode::CREATED).await;
        let (mut ws, _) = app.ws(room, &buyer.token).await;
        ws.send_json(json!({"type": "chat", "text": "hello"})).await;
        ws.until(|f| f["type"] == "chat" && f["text"] == "hello").await;

        let mut conn = crate::redis_server::connect(&redis.url()).await;
        let (room_key, listing_key) = (format!("livecart:snapshot:room:{room}"), format!("livecart:snapshot:listing:{listing}"));
        assert!(appears(&mut conn, &room_key, Duration::from_secs(10)).await, "the room's snapshot is written");
        assert!(appears(&mut conn, &listing_key, Duration::from_secs(10)).await, "the listing's snapshot is written");

        // Redis comes back empty (a restart without persistence): nothing changes in the room,
        // yet both snapshots are written again.
        let () = deadpool_redis::redis::cmd("FLUSHALL").query_async(&mut conn).await.expect("FLUSHALL");
        assert!(appears(&mut conn, &room_key, Duration::from_secs(15)).await, "the room's snapshot is written again");
        assert!(appears(&mut conn, &listing_key, Duration::from_secs(15)).await, "the listing's snapshot is written again");
        ws.close().await;
    }
}
