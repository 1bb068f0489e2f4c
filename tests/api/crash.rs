//! The server binary SIGKILLed at random moments while buyers hammer one hot listing over HTTP
//! and WebSocket, and restarted on the same database each time: every acknowledged order is
//! stored, no unit is oversold, no buyer passes the per-user limit, and every order earns exactly
//! one coupon once the relay has caught up.
//!
//! It runs the binary Cargo builds for the tests, or the one `LIVECART_BIN` names
//! (`scripts/crash-test` builds the release binary and runs this test with it). The kill moments
//! come from a seed that is printed; `LIVECART_CRASH_SEED=<seed>` draws the same ones.

use crate::helpers::*;
use crate::process::{binary, ServerProcess};
use futures_util::future::join_all;
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

const KILLS: usize = 5;
/// Buyers ask 1 to 3 units at a time and stop at the limit: each stops holding at least 8 unless
/// the stock runs out first, and 40 × 8 > 300, so the sale always sells out and many buyers
/// reach their limit on the way.
const STOCK: u64 = 300;
const LIMIT: u64 = 10;
const HTTP_BUYERS: usize = 25;
const WS_BUYERS: usize = 15;
/// How long a live server may take to start, or to answer a request.
const PATIENCE: Duration = Duration::from_secs(30);

/// What the buyers and the killer share. Single-threaded: every future runs on the test's task.
struct Shared {
    /// The live server's base URL; `None` from just before a kill until the restart is ready.
    address: watch::Sender<Option<String>>,
    /// (orders acknowledged, buyers finished), watched by the killer.
    progress: watch::Sender<(usize, usize)>,
    /// Every acknowledged order: id → (buyer, quantity).
    acked: RefCell<HashMap<String, (Uuid, u64)>>,
    /// How the buyers ended: `sold_out` or `limit_exceeded`, and how many of each.
    endings: RefCell<HashMap<String, usize>>,
    /// Buys answered `unavailable` (nothing recorded), retried.
    unavailable: std::cell::Cell<usize>,
}

impl Shared {
    fn ack(&self, order: &Value, buyer: Uuid) {
        let id = order["id"].as_str().expect("an order id").to_owned();
        let quantity = order["quantity"].as_u64().expect("a quantity");
        assert_eq!(order["user_id"], json!(buyer), "the order is the buyer's: {order}");
        let previous = self.acked.borrow_mut().insert(id, (buyer, quantity));
        assert!(previous.is_none(), "one order acknowledged twice: {order}");
        self.progress.send_modify(|p| p.0 += 1);
    }

    fn finished(&self, refusal: &str) {
        *self.endings.borrow_mut().entry(refusal.to_owned()).or_default() += 1;
        self.progress.send_modify(|p| p.1 += 1);
    }
}

/// Waits until a server is up and returns its address.
async fn live(address: &mut watch::Receiver<Option<String>>) -> String {
    let up = address
        .wait_for(Option::is_some)
        .await
        .expect("the killer outlives the buyers");
    up.clone().unwrap_or_default()
}

/// After a failed call to `base`: if the server there was killed, waits for its successor. A
/// server still marked live does not fail calls; a few retries forgive a fluke, then it is a bug.
async fn after_failure(address: &mut watch::Receiver<Option<String>>, base: &str, strikes: &mut u32, what: String) {
    if address.borrow().as_deref() == Some(base) {
        *strikes += 1;
        assert!(*strikes < 20, "the live server keeps failing: {what}");
        return;
    }
    let _ = address.wait_for(|a| a.as_deref().is_some_and(|a| a != base)).await;
}

/// Buys over HTTP until sold out or at the limit. A purchase keeps its `Idempotency-Key` across
/// crashes, so a retry after a restart returns the order the dead server may have committed.
async fn http_buyer(shared: &Shared, http: &reqwest::Client, buyer: &User, room: Uuid, listing: Uuid, mut rng: Rng) {
    let mut address = shared.address.subscribe();
    let mut strikes = 0;
    let mut purchase = 0;
    let mut quantity = 1 + rng.below(3);
    loop {
        let base = live(&mut address).await;
        let sent = http
            .post(format!("{base}/v1/rooms/{room}/orders"))
            .bearer_auth(&buyer.token)
            .header("Idempotency-Key", format!("crash-{purchase}"))
            .json(&json!({"listing_id": listing, "quantity": quantity}))
            .send()
            .await;
        let answer = match sent {
            Ok(res) => {
                let status = res.status();
                res.json::<Value>().await.map(|body| (status, body))
            }
            Err(e) => Err(e),
        };
        match answer {
            Err(e) => after_failure(&mut address, &base, &mut strikes, e.to_string()).await,
            Ok((StatusCode::CREATED | StatusCode::OK, order)) => {
                shared.ack(&order, buyer.id);
                purchase += 1;
                quantity = 1 + rng.below(3);
            }
            Ok((StatusCode::CONFLICT, body)) if body["error"] == "sold_out" || body["error"] == "limit_exceeded" => {
                return shared.finished(body["error"].as_str().unwrap_or_default());
            }
            // Nothing was recorded (storage busy or unreachable): the same purchase again.
            Ok((StatusCode::SERVICE_UNAVAILABLE, _)) => shared.unavailable.set(shared.unavailable.get() + 1),
            Ok((status, body)) => panic!("unexpected answer to an order: {status} {body}"),
        }
    }
}

/// Buys over WebSocket, one `buy` frame at a time, reconnecting after each crash. The frame's
/// `request_id` is the purchase's idempotency key: resent after a crash, it finds the order the
/// dead server may have committed.
async fn ws_buyer(shared: &Shared, buyer: &User, room: Uuid, listing: Uuid, mut rng: Rng) {
    let mut address = shared.address.subscribe();
    let mut strikes = 0;
    let mut purchase = 0;
    let mut quantity = 1 + rng.below(3);
    'connect: loop {
        let base = live(&mut address).await;
        let url = format!(
            "{}/v1/rooms/{room}/ws?token={}",
            base.replace("http://", "ws://"),
            buyer.token
        );
        let mut socket = match tokio_tungstenite::connect_async(url).await {
            Ok((socket, _)) => socket,
            Err(e) => {
                after_failure(&mut address, &base, &mut strikes, e.to_string()).await;
                continue;
            }
        };
        loop {
            let request_id = format!("buy-{purchase}");
            let buy = json!({"type": "buy", "request_id": request_id, "listing_id": listing, "quantity": quantity});
            if let Err(e) = socket.send(Message::text(buy.to_string())).await {
                after_failure(&mut address, &base, &mut strikes, e.to_string()).await;
                continue 'connect;
            }
            let answer = loop {
                let next = tokio::time::timeout(PATIENCE, socket.next()).await;
                let message = next.unwrap_or_else(|_| panic!("a buy went unanswered for {PATIENCE:?}"));
                match message {
                    Some(Ok(Message::Text(text))) => {
                        let frame: Value = serde_json::from_str(&text).expect("JSON frames");
                        if frame["type"] == "order" && frame["request_id"] == request_id.as_str() {
                            break Ok(frame);
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break Err(e.to_string()),
                    None => break Err("closed".to_owned()),
                }
            };
            match answer {
                Err(e) => {
                    after_failure(&mut address, &base, &mut strikes, e).await;
                    continue 'connect;
                }
                Ok(frame) => match frame.get("order") {
                    Some(order) => {
                        shared.ack(order, buyer.id);
                        purchase += 1;
                        quantity = 1 + rng.below(3);
                    }
                    None => match frame["error"]["error"].as_str() {
                        Some(refusal @ ("sold_out" | "limit_exceeded")) => return shared.finished(refusal),
                        // Nothing was recorded: the same purchase again.
                        Some("unavailable") => shared.unavailable.set(shared.unavailable.get() + 1),
                        _ => panic!("unexpected answer to a buy: {frame}"),
                    },
                },
            }
        }
    }
}

/// Every item of a user's list endpoint (`/v1/orders`, `/v1/coupons`).
async fn list_of(http: &reqwest::Client, base: &str, path: &str, user: &User) -> Vec<Value> {
    let res = http
        .get(format!("{base}{path}"))
        .bearer_auth(&user.token)
        .send()
        .await
        .expect("listed");
    let body = expect_status(res, StatusCode::OK).await;
    body.as_array()
        .cloned()
        .unwrap_or_else(|| panic!("{path} answers an array: {body}"))
}

on_both_backends! {
    async fn acknowledged_orders_survive_the_server_being_killed_five_times(backend) {
        let seed = seed_from_env("LIVECART_CRASH_SEED");
        println!("{backend:?}: crash seed {seed}: replay the kill moments with LIVECART_CRASH_SEED={seed}; binary {}", binary());
        let mut rng = Rng::new(seed);
        let database = fresh_database(backend);
        let http = reqwest::Client::builder().timeout(PATIENCE).build().expect("client");
        let first = ServerProcess::start(&database.url, &[]).await;

        // A live room with one hot listing and a coupon campaign, through the public API.
        let api = Api::new(first.address.clone());
        let merchant = api.merchant().await;
        let room = api.live_room(&merchant).await;
        let listing = api.simple_listing(&merchant, room, STOCK, LIMIT as u32).await;
        let campaign = json!({"amount_off_cents": 100, "min_spend_cents": 500, "valid_for_s": 86_400});
        let res = api.post(&format!("/v1/rooms/{room}/coupon-campaign"), Some(&merchant.token), campaign).await;
        expect_status(res, StatusCode::CREATED).await;
        let buyers = api.guests(HTTP_BUYERS + WS_BUYERS).await;

        let shared = Shared {
            address: watch::Sender::new(Some(first.address.clone())),
            progress: watch::Sender::new((0, 0)),
            acked: RefCell::new(HashMap::new()),
            endings: RefCell::new(HashMap::new()),
            unavailable: std::cell::Cell::new(0),
        };
        // Kill as soon as this many orders are acknowledged (or every buyer is done): other buys
        // are then in flight, some committed and unanswered, some neither. About STOCK / 2
        // orders sell it out; the kills fall in the first two thirds of the sale.
        let mut kill_at: Vec<usize> = (0..KILLS).map(|_| 3 + rng.below(STOCK as usize / 3)).collect();
        kill_at.sort_unstable();
        let buying = join_all(buyers.iter().enumerate().map(|(i, buyer)| {
            let buyer_rng = Rng::new(seed ^ (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let shared = &shared;
            let http = &http;
            async move {
                if i < HTTP_BUYERS {
                    http_buyer(shared, http, buyer, room, listing, buyer_rng).await
                } else {
                    ws_buyer(shared, buyer, room, listing, buyer_rng).await
                }
            }
        }));
        let total = buyers.len();
        let mut server = Some(first);
        let killing = async {
            let mut progress = shared.progress.subscribe();
            for (n, at) in kill_at.iter().enumerate() {
                let _ = progress.wait_for(|&(acked, done)| acked >= *at || done == total).await;
                shared.address.send_replace(None);
                if let Some(mut killed) = server.take() {
                    killed.kill(); // SIGKILL: no shutdown hook runs, as in a power cut of the process
                }
                let down = Instant::now();
                let restarted = ServerProcess::start(&database.url, &[]).await;
                let acked = shared.progress.borrow().0;
                println!("{backend:?}: kill {} after {acked} acknowledged orders; ready again after {:?}", n + 1, down.elapsed());
                shared.address.send_replace(Some(restarted.address.clone()));
                server = Some(restarted);
            }
        };
        let finishing = async {
            let mut progress = shared.progress.subscribe();
            let all_done = progress.wait_for(|&(_, done)| done == total);
            tokio::time::timeout(PATIENCE * 2, all_done).await.expect("the buyers finish").expect("progress");
        };
        let sale = Instant::now();
        tokio::join!(buying, killing, finishing);
        let sold_in = sale.elapsed();
        let base = server.as_ref().map(|s| s.address.clone()).expect("the last server runs");

        // The relay catches up after the last restart: wait, bounded, for one coupon per order.
        let deadline = Instant::now() + PATIENCE;
        let (orders, coupons) = loop {
            let mut orders = Vec::new();
            let mut coupons = Vec::new();
            for buyer in &buyers {
                orders.extend(list_of(&http, &base, "/v1/orders", buyer).await);
                coupons.extend(list_of(&http, &base, "/v1/coupons", buyer).await);
            }
            if coupons.len() >= orders.len() || Instant::now() > deadline {
                println!("{backend:?}: sold out in {sold_in:?}; coupons caught up {:?} later", sale.elapsed() - sold_in);
                break (orders, coupons);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };

        // Every acknowledged order is stored, as acknowledged.
        let stored: HashMap<String, &Value> = orders.iter().map(|o| (o["id"].as_str().expect("id").to_owned(), o)).collect();
        let acked = shared.acked.take();
        for (id, (buyer, quantity)) in acked.iter() {
            let order = stored.get(id).unwrap_or_else(|| panic!("acknowledged order {id} was lost"));
            assert_eq!((order["user_id"].clone(), order["quantity"].as_u64()), (json!(buyer), Some(*quantity)));
        }
        // No unit oversold, no buyer over the limit.
        let sold: u64 = orders.iter().map(|o| o["quantity"].as_u64().expect("quantity")).sum();
        let res = http.get(format!("{base}/v1/rooms/{room}/listings")).send().await.expect("listed");
        let listings = expect_status(res, StatusCode::OK).await;
        let left = listings[0]["stock_left"].as_u64().expect("stock_left");
        let endings = shared.endings.take();
        println!("{backend:?}: {} orders acknowledged, {} stored: {sold} units sold, {left} left; buyers ended {endings:?}; {} buys answered 503", acked.len(), stored.len(), shared.unavailable.get());
        assert!(endings.contains_key("sold_out"), "the sale sold out (40 buyers × 8 units > {STOCK})");
        assert_eq!((listings[0]["stock"].as_u64(), sold + left), (Some(STOCK), STOCK), "sold {sold} + left {left} == stock placed");
        let mut per_buyer: HashMap<&str, u64> = HashMap::new();
        for order in &orders {
            assert_eq!(order["status"], "reserved", "{order}");
            *per_buyer.entry(order["user_id"].as_str().expect("user_id")).or_default() += order["quantity"].as_u64().expect("quantity");
        }
        assert!(per_buyer.values().all(|&n| n <= LIMIT), "a buyer passed the limit of {LIMIT}: {per_buyer:?}");
        // Exactly one coupon per order.
        let mut coupon_orders = HashSet::new();
        for coupon in &coupons {
            let order = coupon["order_id"].as_str().expect("order_id");
            assert!(stored.contains_key(order), "a coupon for an order that does not exist: {coupon}");
            assert!(coupon_orders.insert(order), "two coupons for order {order}");
        }
        assert_eq!(coupon_orders.len(), stored.len(), "one coupon per order, once the relay caught up");
    }
}
