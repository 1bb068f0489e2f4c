//! The load bench behind DESIGN.md's first performance target: `cargo bench --bench order_path`.
//!
//! The target is a ratio measured in one run: the durable HTTP order path on one hot listing
//! should reach at least half the throughput of a bare actix-web JSON echo, with p99 under 10 ms
//! at half of its peak. So, in one process, this starts both servers on loopback and drives them
//! with the same client (`load`), the client's own cost included:
//!
//! 1. the echo server (`echo`), closed loop: the baseline;
//! 2. livecart on a fresh SQLite file (`shop`): `POST /v1/rooms/{id}/orders`, quantity 1, buyers
//!    taken in turn, closed loop: the peak; only 201 counts, anything else fails the bench;
//! 3. the same orders open loop at half that peak: the latency a sale sees with headroom;
//! 4. with `LIVECART_BENCH_POSTGRES=postgres://…/postgres` (a role that may create databases),
//!    steps 2 and 3 again on a fresh PostgreSQL database.
//!
//! Environment knobs: `LIVECART_BENCH_CONNECTIONS` (64), `LIVECART_BENCH_SECONDS` measured per
//! pass after a 1 s warm-up (5), `LIVECART_BENCH_CLIENT_THREADS` (2). Every pass is bounded in
//! time and only ever targets 127.0.0.1.

// The parts live beside this file, in `order_path/`; a bench's root looks in `benches/` itself.
#[path = "order_path/database.rs"]
mod database;
#[path = "order_path/echo.rs"]
mod echo;
#[path = "order_path/load.rs"]
mod load;
#[path = "order_path/report.rs"]
mod report;
#[path = "order_path/shop.rs"]
mod shop;

use database::Database;
use echo::EchoServer;
use hyper::body::Bytes;
use hyper::header::HeaderValue;
use hyper::{StatusCode, Uri};
use load::{Plan, Target};
use report::Pass;
use shop::{Shop, PER_USER_LIMIT, STOCK};
use std::sync::Arc;
use std::time::Duration;

/// Guest buyers the orders are spread over: enough that concurrent orders come from different
/// buyers, few enough to create in a second.
const BUYERS: usize = 512;

const WARM_UP: Duration = Duration::from_secs(1);

fn main() {
    let plan = Plan {
        connections: env_number("LIVECART_BENCH_CONNECTIONS", 64),
        client_threads: env_number("LIVECART_BENCH_CLIENT_THREADS", 2),
        warm_up: WARM_UP,
        measure: Duration::from_secs(env_number("LIVECART_BENCH_SECONDS", 5) as u64),
        rate: None,
    };
    let postgres = std::env::var("LIVECART_BENCH_POSTGRES").ok();
    actix_web::rt::System::new().block_on(run(plan, postgres));
}

async fn run(plan: Plan, postgres: Option<String>) {
    livecart::telemetry::init_with_default("warn");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "order_path: {cores} cores, {} connections, {} client thread(s), {WARM_UP:?} warm-up + {:?} measured per pass",
        plan.connections, plan.client_threads, plan.measure
    );

    let echo = EchoServer::start();
    let sqlite = Shop::open(Database::sqlite(), BUYERS).await;
    let echo_target = target(&sqlite, echo.address, Uri::from_static("/echo"), StatusCode::OK);
    let baseline = load::run(echo_target, plan).await;
    echo.stop().await;

    let mut passes = vec![Pass {
        name: "echo (bare actix-web)".into(),
        outcome: baseline,
        server: None,
    }];
    let mut backends = vec![order_passes(sqlite, plan).await];
    if let Some(admin_url) = postgres {
        let shop = Shop::open(Database::postgres(&admin_url), BUYERS).await;
        backends.push(order_passes(shop, plan).await);
    }

    passes.extend(backends.into_iter().flatten());
    println!();
    report::table(&passes);
    println!();
    let baseline = &passes[0].outcome;
    for pair in passes[1..].chunks(2) {
        let backend = pair[0].name.trim_start_matches("orders, ");
        report::verdict(backend, baseline, &pair[0].outcome, &pair[1].outcome);
    }
    for pass in &passes {
        if pass.outcome.failures > 0 {
            panic!(
                "{}: {} request(s) failed; the first: {}",
                pass.name,
                pass.outcome.failures,
                pass.outcome.first_failure.as_deref().unwrap_or("?")
            );
        }
    }
}

/// The order path of one backend: its closed-loop peak, then open loop at half of it. Checks
/// that the stock the server reports sold is exactly the count of 201s the client saw.
async fn order_passes(shop: Shop, plan: Plan) -> Vec<Pass> {
    let backend = shop.backend();
    let orders = Uri::try_from(format!("/v1/rooms/{}/orders", shop.room)).expect("a valid path");
    let target = target(&shop, shop.address, orders, StatusCode::CREATED);
    let start = shop.figures().await;
    let peak = load::run(Arc::clone(&target), plan).await;
    let after_peak = shop.figures().await;
    assert!(
        peak.succeeded > 0,
        "no order succeeded on {backend}: {}",
        peak.first_failure.as_deref().unwrap_or("?")
    );
    let half_rate = Plan {
        rate: Some(peak.per_second() / 2.0),
        ..plan
    };
    let half = load::run(target, half_rate).await;
    let after_half = shop.figures().await;
    let sold = STOCK - shop.stock_left().await;
    assert_eq!(
        sold,
        peak.succeeded_total + half.succeeded_total,
        "every 201 the client saw is one unit the server sold"
    );
    assert!(
        sold <= PER_USER_LIMIT * BUYERS as u64,
        "the per-user limit was within reach: use more buyers"
    );
    shop.close().await;
    vec![
        Pass {
            name: format!("orders, {backend}"),
            outcome: peak,
            server: Some(after_peak.since(start)),
        },
        Pass {
            name: format!("orders, {backend}"),
            outcome: half,
            server: Some(after_half.since(after_peak)),
        },
    ]
}

/// The same request on both servers (body, headers, tokens); only the path and the status that
/// counts differ, so the difference in cost is the order path's own.
fn target(shop: &Shop, address: std::net::SocketAddr, uri: Uri, success: StatusCode) -> Arc<Target> {
    let body = serde_json::json!({"listing_id": shop.listing, "quantity": 1});
    let bearers = shop
        .buyer_tokens
        .iter()
        .map(|t| HeaderValue::from_str(&format!("Bearer {t}")).expect("a JWT is a valid header"))
        .collect();
    Arc::new(Target {
        address,
        uri,
        body: Bytes::from(body.to_string()),
        bearers,
        success,
    })
}

fn env_number(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v.parse().unwrap_or_else(|_| panic!("{name}={v} is not a whole number")),
        Err(_) => default,
    }
}
