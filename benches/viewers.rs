//! The bench behind issue #8's WebSocket targets: `cargo bench --bench viewers`.
//!
//! livecart runs as a process of its own (the release binary Cargo built for this bench, on a
//! fresh SQLite file, rate limits off), so what it holds is measured apart from the client:
//!
//! 1. **idle memory**: the server's VmRSS (`/proc/<pid>/status`) once steady before and after
//!    `LIVECART_BENCH_IDLE_VIEWERS` (2,000) guests each open the room's WebSocket, read their
//!    welcome and stay, answering the server's pings. Target: ≤ 10 KiB per idle viewer. Run it
//!    under `MALLOC_ARENA_MAX=2` (the variable reaches the server) to see glibc's arenas' share.
//! 2. **buys**: `LIVECART_BENCH_CONNECTIONS` (64) connections, closed loop, 1 s warm-up then
//!    `LIVECART_BENCH_SECONDS` (5): a bare actix-web JSON echo (in this process, the baseline
//!    `order_path` uses), `POST /v1/rooms/{id}/orders` over keep-alive HTTP/1, `ping` frames
//!    answered by `pong` over the room's WebSocket (the WebSocket path without the order), and
//!    `buy` frames answered by `order` frames. Target: WebSocket buys ≥ HTTP orders.
//!
//! `LIVECART_BENCH_ONLY=idle` or `=buys` runs one part. Every pass is bounded in time, only
//! 127.0.0.1 is targeted, and the server and its database are removed at the end.

#[allow(dead_code)]
#[path = "order_path/database.rs"]
mod database;
#[path = "order_path/echo.rs"]
mod echo;
#[path = "viewers/idle.rs"]
mod idle;
#[allow(dead_code)]
#[path = "order_path/load.rs"]
mod load;
#[allow(dead_code)]
#[path = "../tests/api/process.rs"]
mod process;
#[allow(dead_code)]
#[path = "order_path/shop.rs"]
mod shop;
#[path = "viewers/socket_load.rs"]
mod socket_load;

use database::Database;
use echo::EchoServer;
use hyper::body::Bytes;
use hyper::header::HeaderValue;
use hyper::{StatusCode, Uri};
use process::ServerProcess;
use socket_load::{Exchange, SocketOutcome};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

const WARM_UP: Duration = Duration::from_secs(1);
const TARGET_IDLE_KIB: f64 = 10.0;

/// What the reader asked for.
#[derive(Debug, Clone)]
struct Plan {
    idle_viewers: usize,
    load: load::Plan,
    idle: bool,
    buys: bool,
}

/// The room the bench set up: where viewers connect and what they buy.
pub struct Sale {
    pub address: SocketAddr,
    pub room: Uuid,
    pub listing: Uuid,
    pub tokens: Vec<String>,
}

impl Sale {
    pub fn socket_url(&self, token: &str) -> String {
        format!("ws://{}/v1/rooms/{}/ws?token={token}", self.address, self.room)
    }
}

fn main() {
    let only = std::env::var("LIVECART_BENCH_ONLY").unwrap_or_default();
    let plan = Plan {
        idle_viewers: env_number("LIVECART_BENCH_IDLE_VIEWERS", 2_000),
        load: load::Plan {
            connections: env_number("LIVECART_BENCH_CONNECTIONS", 64),
            client_threads: env_number("LIVECART_BENCH_CLIENT_THREADS", 2),
            warm_up: WARM_UP,
            measure: Duration::from_secs(env_number("LIVECART_BENCH_SECONDS", 5) as u64),
            rate: None,
        },
        idle: only.is_empty() || only == "idle",
        buys: only.is_empty() || only == "buys",
    };
    actix_web::rt::System::new().block_on(run(plan));
}

async fn run(plan: Plan) {
    let database = Database::sqlite();
    let server = ServerProcess::start(&database.url(), &[]).await;
    let address: SocketAddr = server
        .address
        .trim_start_matches("http://")
        .parse()
        .expect("an address");
    let client = reqwest::Client::new();
    let api = shop::Api::new(&client, server.address.clone());
    let merchant = api.merchant().await;
    let (room, listing) = api.live_sale(&merchant).await;
    let guests = if plan.idle { plan.idle_viewers } else { 0 }.max(plan.load.connections);
    let sale = Sale {
        address,
        room,
        listing,
        tokens: api.guests(guests).await,
    };
    println!(
        "viewers: livecart as process {} ({}), MALLOC_ARENA_MAX={}",
        server.pid(),
        process::binary(),
        std::env::var("MALLOC_ARENA_MAX").unwrap_or_else(|_| "unset".into())
    );

    if plan.idle {
        let idle = idle::measure(&sale, server.pid(), plan.idle_viewers).await;
        idle.report(TARGET_IDLE_KIB);
    }
    if plan.buys {
        buys(&sale, plan.load).await;
    }
    drop(server);
    database.remove();
}

/// The four closed-loop passes, one after the other on the same machine, and their ratios.
async fn buys(sale: &Sale, plan: load::Plan) {
    let echo_server = EchoServer::start();
    let bearers: Vec<HeaderValue> = sale.tokens[..plan.connections]
        .iter()
        .map(|t| HeaderValue::from_str(&format!("Bearer {t}")).expect("a token is a valid header"))
        .collect();
    let body = Bytes::from(format!(r#"{{"listing_id":"{}","quantity":1}}"#, sale.listing));
    let echo = load::run(
        Arc::new(load::Target {
            address: echo_server.address,
            uri: Uri::from_static("/echo"),
            body: body.clone(),
            bearers: bearers.clone(),
            success: StatusCode::OK,
        }),
        plan,
    )
    .await;
    echo_server.stop().await;
    let orders_uri: Uri = format!("/v1/rooms/{}/orders", sale.room).parse().expect("a path");
    let http = load::run(
        Arc::new(load::Target {
            address: sale.address,
            uri: orders_uri,
            body,
            bearers,
            success: StatusCode::CREATED,
        }),
        plan,
    )
    .await;
    let pings = socket_load::run(sale, Exchange::Ping, plan).await;
    let socket_buys = socket_load::run(sale, Exchange::Buy, plan).await;

    println!();
    println!(
        "buys: {} connections, closed loop, {} s after a {} s warm-up",
        plan.connections,
        plan.measure.as_secs(),
        plan.warm_up.as_secs()
    );
    println!("| pass | per s | of echo | p50 ms | p99 ms | failures |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    let echo_rate = echo.per_second();
    let http_line = |name: &str, o: &load::Outcome| {
        println!(
            "| {name} | {:.0} | {:.2} | {:.2} | {:.2} | {} |",
            o.per_second(),
            o.per_second() / echo_rate,
            o.quantile_ms(0.5),
            o.quantile_ms(0.99),
            o.failures
        );
    };
    http_line("HTTP echo (in the bench's process)", &echo);
    http_line("HTTP POST /orders", &http);
    let socket_line = |name: &str, o: &SocketOutcome| {
        println!(
            "| {name} | {:.0} | {:.2} | {:.2} | {:.2} | {} |",
            o.per_second(),
            o.per_second() / echo_rate,
            o.quantile_ms(0.5),
            o.quantile_ms(0.99),
            o.failures
        );
    };
    socket_line("WebSocket ping → pong", &pings);
    socket_line("WebSocket buy → order", &socket_buys);
    let ratio = socket_buys.per_second() / http.per_second().max(1.0);
    println!(
        "WebSocket buys ÷ HTTP orders: {ratio:.2} ({})",
        if ratio >= 1.0 {
            "meets the target"
        } else {
            "misses the target"
        }
    );
    for (name, first) in [
        ("HTTP orders", &http.first_failure),
        ("pings", &pings.first_failure),
        ("buys", &socket_buys.first_failure),
    ] {
        if let Some(why) = first {
            println!("first {name} failure: {why}");
        }
    }
    assert!(
        http.failures + pings.failures + socket_buys.failures == 0,
        "every request should succeed on a sale that cannot sell out"
    );
}

fn env_number(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v.parse().unwrap_or_else(|_| panic!("{name}={v} is not a whole number")),
        Err(_) => default,
    }
}
