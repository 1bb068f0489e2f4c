//! livecart itself, started in process as `tests/api/helpers.rs` does, and set up for a flash
//! sale: one merchant, one live room, one hot listing, and a crowd of guest buyers.

use crate::database::Database;
use actix_web::dev::ServerHandle;
use actix_web::rt::System;
use livecart::settings::Settings;
use livecart::startup::Application;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::net::SocketAddr;
use uuid::Uuid;

/// Units on sale: the most a listing may hold, so no pass can sell out.
pub const STOCK: u64 = 100_000_000;

/// The most a buyer may hold: the contract's maximum, so that with a few hundred buyers the
/// per-user limit is never what refuses an order during a pass.
pub const PER_USER_LIMIT: u64 = 10_000;

/// A running livecart with a live room whose one listing is on sale.
pub struct Shop {
    pub address: SocketAddr,
    pub room: Uuid,
    pub listing: Uuid,
    /// One JWT per guest buyer; the load spreads its orders over them.
    pub buyer_tokens: Vec<String>,
    client: reqwest::Client,
    handle: ServerHandle,
    /// The shop's own actix System, so that closing the shop also ends what `Application::build`
    /// starts beside the HTTP server (the outbox relay task, the actor arbiters): a shop still
    /// draining its outbox must not load the machine during the next backend's passes.
    system: std::thread::JoinHandle<()>,
    database: Database,
}

impl Shop {
    /// Starts livecart on `database` with the test settings (rate limits off, port 0) and sets
    /// up the sale through the public API, as a merchant and its viewers would.
    pub async fn open(database: Database, buyers: usize) -> Shop {
        let mut settings = Settings::load_for("test").expect("config/test.toml loads");
        settings.database.url = database.url();
        settings.server.bind = "127.0.0.1:0".into();
        settings.limits.enabled = false;
        let (started, running) = tokio::sync::oneshot::channel();
        let system = std::thread::Builder::new()
            .name("bench-shop".into())
            .spawn(move || serve(settings, started))
            .expect("the shop's thread starts");
        let (port, handle) = running.await.expect("livecart starts on a fresh database");
        let address = SocketAddr::from(([127, 0, 0, 1], port));

        let client = reqwest::Client::new();
        let api = Api::new(&client, format!("http://{address}"));
        let merchant = api.merchant().await;
        let (room, listing) = api.live_sale(&merchant).await;
        let buyer_tokens = api.guests(buyers).await;
        Shop {
            address,
            room,
            listing,
            buyer_tokens,
            client,
            handle,
            system,
            database,
        }
    }

    /// `SQLite` or `PostgreSQL`, for the report.
    pub fn backend(&self) -> &'static str {
        self.database.label()
    }

    /// The listing's units still for sale, as the public API reports them.
    pub async fn stock_left(&self) -> u64 {
        let url = format!("http://{}/v1/rooms/{}/listings", self.address, self.room);
        let res = self.client.get(url).send().await.expect("livecart answers");
        let listings: Value = res.json().await.expect("a JSON list of listings");
        let listing = listings
            .as_array()
            .and_then(|all| all.iter().find(|l| l["id"] == json!(self.listing)))
            .expect("the listing is listed");
        listing["stock_left"].as_u64().expect("stock_left is a number")
    }

    /// What the server counted about itself (`GET /metrics`), to explain the client's figures.
    pub async fn figures(&self) -> ServerFigures {
        let url = format!("http://{}/metrics", self.address);
        let res = self.client.get(url).send().await.expect("livecart answers");
        let text = res.text().await.expect("a readable body");
        let read = |name: &str| {
            text.lines()
                .filter_map(|line| line.split_once(' '))
                .find(|(key, _)| *key == name)
                .and_then(|(_, value)| value.trim().parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        ServerFigures {
            commits: read("livecart_journal_batch_size_count"),
            journaled: read("livecart_journal_batch_size_sum"),
            published: read("livecart_outbox_published_total"),
            decided: read("livecart_place_order_seconds_count"),
            deciding_s: read("livecart_place_order_seconds_sum"),
        }
    }

    /// Stops the server, then the shop's System (its relay and actors), then removes its data.
    pub async fn close(self) {
        self.handle.stop(true).await;
        let system = self.system;
        actix_web::rt::task::spawn_blocking(move || system.join())
            .await
            .expect("the join task ran")
            .expect("the shop's System shut down cleanly");
        self.database.remove();
    }
}

/// The shop's thread: livecart on its own actix System until its server is stopped; then the
/// System stops its arbiters and dropping the runtime cancels the relay task.
fn serve(settings: Settings, started: tokio::sync::oneshot::Sender<(u16, ServerHandle)>) {
    let system = System::new();
    system.block_on(async move {
        let app = Application::build(settings).await.expect("livecart starts");
        // The bench awaits this; if it has gone, it has panicked already.
        let _ = started.send((app.port(), app.handle()));
        app.run_until_stopped().await.expect("the server runs until stopped");
        System::current().stop();
    });
}

/// Counters of the journal and the outbox relay. The metrics recorder is process-wide, so a pass
/// reads them before and after and keeps the difference.
#[derive(Debug, Clone, Copy)]
pub struct ServerFigures {
    /// Journal batches committed: one transaction each.
    pub commits: f64,
    /// Entries those batches held (orders, here).
    pub journaled: f64,
    /// Events the outbox relay delivered to the consumers (the coupon issuer).
    pub published: f64,
    /// Orders timed by `place_order` from the actor lookup to its answer (the commit included),
    /// and their total time: the server-side share of the client's latency.
    pub decided: f64,
    pub deciding_s: f64,
}

impl ServerFigures {
    pub fn since(self, before: ServerFigures) -> ServerFigures {
        ServerFigures {
            commits: self.commits - before.commits,
            journaled: self.journaled - before.journaled,
            published: self.published - before.published,
            decided: self.decided - before.decided,
            deciding_s: self.deciding_s - before.deciding_s,
        }
    }
}

/// The few calls that set up a sale through the public API, each expected to answer with one
/// status. Public for the benches that run livecart as a process of its own (`viewers`).
pub struct Api<'a> {
    client: &'a reqwest::Client,
    base: String,
}

impl<'a> Api<'a> {
    /// The API of the livecart at `base` (`http://127.0.0.1:PORT`).
    pub fn new(client: &'a reqwest::Client, base: String) -> Self {
        Self { client, base }
    }

    /// A new merchant's token.
    pub async fn merchant(&self) -> String {
        let name = format!("bench{}", &Uuid::new_v4().simple().to_string()[..12]);
        let body = json!({"username": name, "password": "a-long-bench-password", "role": "merchant"});
        let registered = self.post("/v1/auth/register", None, body, StatusCode::CREATED).await;
        token_of(&registered)
    }

    /// A live room of `merchant` with one hot listing on sale: `(room, listing)`.
    pub async fn live_sale(&self, merchant: &str) -> (Uuid, Uuid) {
        let room = json!({"title": "Bench night"});
        let room = id_of(&self.post("/v1/rooms", Some(merchant), room, StatusCode::CREATED).await);
        let listing =
            json!({"title": "Jasmine 250g", "price_cents": 3900, "stock": STOCK, "per_user_limit": PER_USER_LIMIT});
        let path = format!("/v1/rooms/{room}/listings");
        let listing = id_of(&self.post(&path, Some(merchant), listing, StatusCode::CREATED).await);
        let path = format!("/v1/rooms/{room}/start");
        self.post(&path, Some(merchant), json!({}), StatusCode::OK).await;
        (room, listing)
    }

    /// `n` guest viewers' tokens.
    pub async fn guests(&self, n: usize) -> Vec<String> {
        let mut tokens = Vec::with_capacity(n);
        for i in 0..n {
            let body = json!({"nickname": format!("buyer{i}")});
            tokens.push(token_of(
                &self.post("/v1/auth/guest", None, body, StatusCode::CREATED).await,
            ));
        }
        tokens
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value, expected: StatusCode) -> Value {
        let mut req = self.client.post(format!("{}{path}", self.base)).json(&body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let res = req.send().await.expect("livecart answers");
        let status = res.status();
        let text = res.text().await.expect("a readable body");
        assert_eq!(status, expected, "POST {path} answered {text}");
        serde_json::from_str(&text).expect("a JSON body")
    }
}

fn id_of(body: &Value) -> Uuid {
    body["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("the created resource has an id")
}

fn token_of(body: &Value) -> String {
    body["token"].as_str().expect("the answer carries a token").to_owned()
}
