//! Storage faults on PostgreSQL, through a proxy the test steers (see `proxy.rs`): a commit whose
//! answer is lost, and the database going away in the middle of a sale. The network only exists
//! with PostgreSQL, so these run on it alone.

use crate::helpers::*;
use crate::process::ServerProcess;
use crate::proxy::{FaultProxy, Mode};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
use reqwest::StatusCode;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

#[derive(QueryableByName)]
struct StoredRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    quantity: i32,
}

/// The listing's orders that hold stock, read straight from the database (not through livecart).
pub fn held_orders(database_url: &str, listing: Uuid) -> Vec<(String, i32)> {
    let mut conn = PgConnection::establish(database_url).expect("direct connection");
    diesel::sql_query("SELECT id, quantity FROM orders_orders WHERE listing_id = $1 AND status IN ('reserved', 'paid')")
        .bind::<diesel::sql_types::Text, _>(listing.to_string())
        .load::<StoredRow>(&mut conn)
        .expect("orders readable")
        .into_iter()
        .map(|r| (r.id, r.quantity))
        .collect()
}

#[actix_web::test]
async fn a_commit_whose_answer_is_lost_is_resolved_as_landed_and_its_stock_stays_taken() {
    let database = fresh_database(Backend::Postgres);
    let proxy = FaultProxy::start("127.0.0.1:5432");
    let app = spawn_app_with(proxy.url_for(&database.url), |_| {}).await;
    let merchant = app.merchant().await;
    let room = app.live_room(&merchant).await;
    let listing = app.simple_listing(&merchant, room, 5, 5).await;
    let buyer = app.guest().await;

    // The connection breaks right after COMMIT reached the server: the server committed, the
    // journal never heard so. Answering 503 and undoing would free units the database holds.
    proxy.cut_after_order_commits(1);
    let res = app.order(&buyer, room, listing, json!(1), Some("lost-answer")).await;
    assert_eq!(proxy.cuts_done(), 1, "the proxy cut the commit's answer");
    let order = id_of(expect_status(res, StatusCode::CREATED).await);
    assert_eq!(
        app.stock_left(room, listing).await,
        4,
        "the landed order keeps its unit"
    );

    // Sell the rest: exactly the stock, never more.
    let mut acknowledged: HashSet<String> = HashSet::from([order.to_string()]);
    for _ in 0..6 {
        let res = app.order(&buyer, room, listing, json!(1), None).await;
        if res.status() == StatusCode::CREATED {
            acknowledged.insert(id_of(res.json().await.expect("json")).to_string());
        } else {
            expect_error(res, StatusCode::CONFLICT, "sold_out").await;
        }
    }
    let stored = held_orders(&database.url, listing);
    let units: i32 = stored.iter().map(|(_, q)| q).sum();
    assert_eq!(units, 5, "sold exactly the stock: {stored:?}");
    let stored_ids: HashSet<String> = stored.into_iter().map(|(id, _)| id).collect();
    assert_eq!(
        stored_ids, acknowledged,
        "every acknowledged order is stored, and only those"
    );
    assert_eq!(app.stock_left(room, listing).await, 0);
}

/// What buyers were told, by phase of the outage.
#[derive(Default)]
struct Answers {
    created: Vec<String>,
    /// Status codes seen while the database was away, by code.
    during_outage: HashMap<String, usize>,
    other: HashMap<String, usize>,
}

impl Answers {
    fn record(&mut self, status: StatusCode, body: &serde_json::Value, during_outage: bool) {
        if status == StatusCode::CREATED {
            self.created.push(body["id"].as_str().expect("id").to_owned());
            return;
        }
        let code = format!("{} {}", status.as_u16(), body["error"].as_str().unwrap_or("?"));
        let bucket = if during_outage {
            &mut self.during_outage
        } else {
            &mut self.other
        };
        *bucket.entry(code).or_default() += 1;
    }
}

#[actix_web::test]
async fn the_server_rides_out_a_database_outage_with_503s_and_recovers_by_itself() {
    // Enough not to sell out before both outages are over, little enough to sell out after.
    const STOCK: u64 = 500;
    let database = fresh_database(Backend::Postgres);
    let proxy = FaultProxy::start("127.0.0.1:5432");
    let server = ServerProcess::start(
        &proxy.url_for(&database.url),
        &[
            ("LIVECART__ORDERS__DEADLINE_MS", "1500"),
            ("LIVECART__ORDERS__COMMIT_TIMEOUT_MS", "2000"),
        ],
    )
    .await;
    let api = Api::new(server.address.clone());
    let merchant = api.merchant().await;
    let room = api.live_room(&merchant).await;
    let listing = api.simple_listing(&merchant, room, STOCK, 10_000).await;
    let buyers = Arc::new(api.guests(40).await);
    let answers = Arc::new(Mutex::new(Answers::default()));
    let outage = Arc::new(std::sync::atomic::AtomicBool::new(false));

    // Buyers keep buying, each until it has one unit or the sale is over.
    let shoppers: Vec<_> = (0..8)
        .map(|lane| {
            let (api, buyers, answers, outage) = (
                Api::new(server.address.clone()),
                buyers.clone(),
                answers.clone(),
                outage.clone(),
            );
            actix_web::rt::spawn(async move {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(14);
                let mut i = lane;
                while tokio::time::Instant::now() < deadline {
                    let buyer = &buyers[i % buyers.len()];
                    i += 8;
                    let during = outage.load(std::sync::atomic::Ordering::SeqCst);
                    let Ok(res) = api
                        .client
                        .post(api.url(&format!("/v1/rooms/{room}/orders")))
                        .bearer_auth(&buyer.token)
                        .json(&json!({"listing_id": listing, "quantity": 1}))
                        .send()
                        .await
                    else {
                        continue;
                    };
                    let status = res.status();
                    let body: serde_json::Value = res.json().await.unwrap_or_default();
                    answers.lock().expect("lock").record(status, &body, during);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(700)).await;
    // A restart: every connection drops and new ones are refused for two seconds.
    outage.store(true, std::sync::atomic::Ordering::SeqCst);
    proxy.set_mode(Mode::Refuse);
    proxy.reset_all();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let readiness = api.client.get(api.url("/readyz")).send().await.expect("readyz answers");
    assert_eq!(
        readiness.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "not ready while the database is away"
    );
    let checks: serde_json::Value = readiness.json().await.expect("json");
    assert_eq!(checks["checks"]["database"], false, "{checks}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    proxy.set_mode(Mode::Forward);
    outage.store(false, std::sync::atomic::Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(2)).await;
    // A hang: the database swallows everything for three seconds, then its connections break.
    outage.store(true, std::sync::atomic::Ordering::SeqCst);
    proxy.set_mode(Mode::Blackhole);
    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.reset_all();
    proxy.set_mode(Mode::Forward);
    outage.store(false, std::sync::atomic::Ordering::SeqCst);
    for shopper in shoppers {
        shopper.await.expect("shopper");
    }

    // Recovery by itself: ready again, and selling, within seconds.
    let ready_by = tokio::time::Instant::now() + Duration::from_secs(15);
    while !api
        .client
        .get(api.url("/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            tokio::time::Instant::now() < ready_by,
            "not ready again; log: {}",
            server.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let late = api.guest().await;
    let res = api.order(&late, room, listing, json!(1), None).await;
    let answers = std::mem::take(&mut *answers.lock().expect("lock"));
    let mut created: HashSet<String> = answers.created.iter().cloned().collect();
    match res.status() {
        StatusCode::CREATED => {
            created.insert(id_of(res.json().await.expect("json")).to_string());
        }
        status => {
            let body: serde_json::Value = res.json().await.unwrap_or_default();
            assert_eq!(body["error"], "sold_out", "after recovery: {status} {body}");
        }
    }

    assert!(
        answers.during_outage.keys().all(|code| code.starts_with("503")),
        "while the database was away buyers got only 503s: {:?}",
        answers.during_outage
    );
    assert!(!answers.during_outage.is_empty(), "the outage was felt");
    assert!(
        answers
            .other
            .keys()
            .all(|code| code == "409 sold_out" || code.starts_with("503")),
        "other answers: {:?}",
        answers.other
    );
    let stored = held_orders(&database.url, listing);
    let stored_ids: HashSet<String> = stored.iter().map(|(id, _)| id.clone()).collect();
    assert!(created.is_subset(&stored_ids), "every acknowledged order is stored");
    let units: i32 = stored.iter().map(|(_, q)| q).sum();
    let left = api.stock_left(room, listing).await;
    assert_eq!(units as u64 + left, STOCK, "sold + left == stock placed");
    assert!(units as u64 <= STOCK);
}

#[derive(QueryableByName)]
struct Terminated {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    gone: bool,
}

/// Ends the sessions whose last statement flushed the journal's log (not this one).
fn break_flush_sessions(conn: &mut PgConnection) -> usize {
    diesel::sql_query(
        "SELECT pg_terminate_backend(pid) AS gone FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%livecart.journal%'",
    )
    .load::<Terminated>(conn)
    .map(|rows| rows.iter().filter(|row| row.gone).count())
    .unwrap_or(0)
}

#[actix_web::test]
async fn a_flush_connection_broken_again_and_again_mid_sale_loses_no_acknowledged_order() {
    // The journal commits without waiting for the disk and answers after a flush on a connection
    // of its own (journal/answers.rs). That connection breaks while batches wait on it: each
    // is answered only once a fresh connection has read what the server holds and flushed it.
    const STOCK: u64 = 300;
    let database = fresh_database(Backend::Postgres);
    let app = spawn_app_with(database.url.clone(), |_| {}).await;
    let merchant = app.merchant().await;
    let room = app.live_room(&merchant).await;
    let listing = app.simple_listing(&merchant, room, STOCK, 10_000).await;
    let buyers = Arc::new(app.guests(16).await);

    let selling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let breaker = std::thread::spawn({
        let (url, selling) = (database.url.clone(), selling.clone());
        move || {
            let mut conn = PgConnection::establish(&url).expect("direct connection");
            let mut broken = 0;
            while selling.load(std::sync::atomic::Ordering::SeqCst) {
                broken += break_flush_sessions(&mut conn);
                std::thread::sleep(Duration::from_millis(3));
            }
            broken
        }
    });

    let lanes: Vec<_> = (0..8)
        .map(|lane| {
            let (api, buyers) = (Api::new(app.address.clone()), buyers.clone());
            actix_web::rt::spawn(async move {
                let (mut created, mut unavailable) = (Vec::new(), 0);
                for i in (lane..).step_by(8) {
                    let res = api
                        .order(&buyers[i % buyers.len()], room, listing, json!(1), None)
                        .await;
                    match res.status() {
                        StatusCode::CREATED => created.push(id_of(res.json().await.expect("json")).to_string()),
                        StatusCode::SERVICE_UNAVAILABLE => unavailable += 1,
                        _ => {
                            expect_error(res, StatusCode::CONFLICT, "sold_out").await;
                            break;
                        }
                    }
                }
                (created, unavailable)
            })
        })
        .collect();
    let (mut acknowledged, mut unavailable) = (HashSet::new(), 0);
    for lane in lanes {
        let (created, refused) = lane.await.expect("lane");
        acknowledged.extend(created);
        unavailable += refused;
    }
    selling.store(false, std::sync::atomic::Ordering::SeqCst);
    let broken = breaker.join().expect("breaker");
    assert!(broken > 0, "the flush connection was broken during the sale");

    let stored = held_orders(&database.url, listing);
    let units: i32 = stored.iter().map(|(_, q)| q).sum();
    assert_eq!(units as u64, STOCK, "sold exactly the stock: {stored:?}");
    assert_eq!(app.stock_left(room, listing).await, 0);
    let stored_ids: HashSet<String> = stored.into_iter().map(|(id, _)| id).collect();
    assert!(
        acknowledged.is_subset(&stored_ids),
        "every acknowledged order is stored ({} acknowledged, {} stored, {unavailable} answered 503)",
        acknowledged.len(),
        stored_ids.len()
    );
    if unavailable == 0 {
        assert_eq!(acknowledged, stored_ids, "nothing stored that nobody was told of");
    }
}
