//! The peer designs the load tool measures livecart against, in the same run, with the same
//! client and the same gates: each is a small actix-web server run as its own process
//! (`livecart-load peer <design> --listen ADDR`), with livecart's order endpoint shape
//! (`POST /v1/rooms/{room}/orders` `{listing_id, quantity}`, a Bearer token, 201 or the
//! contract's error body), so one client drives them all.
//!
//! - `echo`: parses the JSON body and sends it back, 201: the ceiling of any actix-web handler.
//! - `redis-lua`: the common flash-sale design: stock and each buyer's units in Redis, checked
//!   and decremented by one Lua script per order, then the order row inserted in PostgreSQL.
//! - `pg-row-lock`: the textbook design: stock as a PostgreSQL row, each order its own
//!   transaction of `UPDATE … SET stock_left = stock_left - n WHERE stock_left >= n`, the
//!   buyer's units summed under that row lock, and the order row inserted.
//!
//! Two bench endpoints stand in for livecart's merchant API: `POST /bench/setup` makes a listing
//! and signs buyers' tokens, `GET /bench/gate` reads the listing's stock and stored rows back
//! from the design's own storage, for the gates.

mod auth;
mod echo;
mod pg_row_lock;
mod redis_lua;
mod sql;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::net::TcpListener;

/// Which design a peer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Design {
    Echo,
    RedisLua,
    PgRowLock,
}

impl Design {
    pub fn label(self) -> &'static str {
        match self {
            Design::Echo => "echo (bare actix-web)",
            Design::RedisLua => "Redis Lua + PostgreSQL row",
            Design::PgRowLock => "PostgreSQL row lock",
        }
    }
}

/// `livecart-load peer …`.
#[derive(Debug, clap::Args)]
pub struct PeerArgs {
    #[arg(value_enum)]
    pub design: Design,
    /// Address to listen on; port 0 picks a free one (printed as `listening on ADDR`).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    /// The PostgreSQL database the order rows go to (redis-lua, pg-row-lock); its tables are
    /// created if missing.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Redis (redis-lua).
    #[arg(long)]
    pub redis_url: Option<String>,
}

/// A refusal or failure of an order, answered in the contract's error shape.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("the listing is sold out")]
    SoldOut,
    #[error("the buyer's limit is reached")]
    LimitExceeded,
    #[error("no such listing")]
    NotFound,
    #[error("storage failed: {0}")]
    Unavailable(String),
}

impl Refusal {
    fn response(&self) -> HttpResponse {
        let (mut builder, code) = match self {
            Refusal::SoldOut => (HttpResponse::Conflict(), "sold_out"),
            Refusal::LimitExceeded => (HttpResponse::Conflict(), "limit_exceeded"),
            Refusal::NotFound => (HttpResponse::NotFound(), "not_found"),
            Refusal::Unavailable(_) => (HttpResponse::ServiceUnavailable(), "unavailable"),
        };
        builder.json(json!({"error": code, "message": self.to_string()}))
    }
}

/// The storage side of a design.
pub enum Store {
    RedisLua(redis_lua::RedisLua),
    PgRowLock(pg_row_lock::PgRowLock),
}

impl Store {
    async fn listing(&self, stock: u64, per_user_limit: u64) -> anyhow::Result<String> {
        match self {
            Store::RedisLua(s) => s.listing(stock, per_user_limit).await,
            Store::PgRowLock(s) => s.listing(stock, per_user_limit).await,
        }
    }

    async fn order(&self, listing: String, user: String, quantity: u64) -> Result<String, Refusal> {
        match self {
            Store::RedisLua(s) => s.order(listing, user, quantity).await,
            Store::PgRowLock(s) => s.order(listing, user, quantity).await,
        }
    }

    async fn gate(&self, listing: String) -> anyhow::Result<GateCounts> {
        match self {
            Store::RedisLua(s) => s.gate(listing).await,
            Store::PgRowLock(s) => s.gate(listing).await,
        }
    }
}

/// `POST /bench/setup`.
#[derive(Debug, Deserialize)]
struct Setup {
    stock: u64,
    per_user_limit: u64,
    buyers: usize,
}

/// `GET /bench/gate?listing=…`: what the design's storage holds for one listing.
#[derive(Debug, Serialize, Deserialize)]
pub struct GateCounts {
    pub stock: u64,
    /// Signed: a design that oversells may drive it below zero.
    pub stock_left: i64,
    pub rows: u64,
    pub row_units: u64,
    pub max_per_user: u64,
}

#[derive(Debug, Deserialize)]
struct GateQuery {
    listing: String,
}

#[derive(Debug, Deserialize)]
struct OrderBody {
    listing_id: String,
    quantity: u64,
}

struct State {
    keys: auth::Keys,
    store: Store,
}

/// Serves `args.design` until the process is stopped.
pub fn serve(args: PeerArgs) -> anyhow::Result<()> {
    let listener = TcpListener::bind(&args.listen)?;
    let address = listener.local_addr()?;
    actix_web::rt::System::new().block_on(async move {
        if args.design == Design::Echo {
            let server = HttpServer::new(echo::app).listen(listener)?.run();
            println!("listening on {address}");
            return Ok(server.await?);
        }
        let database_url = args
            .database_url
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("--database-url is required"))?;
        let store = match args.design {
            Design::RedisLua => {
                let redis_url = args
                    .redis_url
                    .as_deref()
                    .ok_or_else(|| anyhow::anyhow!("--redis-url is required"))?;
                Store::RedisLua(redis_lua::RedisLua::connect(redis_url, database_url).await?)
            }
            _ => Store::PgRowLock(pg_row_lock::PgRowLock::connect(database_url).await?),
        };
        let state = web::Data::new(State {
            keys: auth::Keys::random()?,
            store,
        });
        let app_state = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .route("/healthz", web::get().to(HttpResponse::Ok))
                .route("/bench/setup", web::post().to(setup))
                .route("/bench/gate", web::get().to(gate))
                .route("/v1/rooms/{room}/orders", web::post().to(order))
        })
        .listen(listener)?
        .run();
        println!("listening on {address}");
        // Until SIGTERM (actix-web stops gracefully on it), then leave Redis as it was found.
        server.await?;
        if let Store::RedisLua(store) = &state.store {
            store.clean_up().await?;
        }
        Ok(())
    })
}

async fn setup(state: web::Data<State>, body: web::Json<Setup>) -> HttpResponse {
    match state.store.listing(body.stock, body.per_user_limit).await {
        Ok(listing) => {
            let tokens: Vec<String> = (0..body.buyers)
                .map(|_| state.keys.sign(&uuid::Uuid::new_v4().to_string()))
                .collect();
            HttpResponse::Created().json(json!({"room": uuid::Uuid::new_v4(), "listing": listing, "tokens": tokens}))
        }
        Err(e) => Refusal::Unavailable(format!("{e:#}")).response(),
    }
}

async fn gate(state: web::Data<State>, query: web::Query<GateQuery>) -> HttpResponse {
    match state.store.gate(query.into_inner().listing).await {
        Ok(counts) => HttpResponse::Ok().json(counts),
        Err(e) => Refusal::Unavailable(format!("{e:#}")).response(),
    }
}

/// The order endpoint: the buyer from the token, the body as livecart takes it, one order.
async fn order(
    state: web::Data<State>,
    request: HttpRequest,
    room: web::Path<String>,
    body: web::Json<OrderBody>,
) -> HttpResponse {
    let Some(user) = state.keys.user_of(&request) else {
        return HttpResponse::Unauthorized()
            .json(json!({"error": "unauthorized", "message": "a valid Bearer token is required"}));
    };
    let OrderBody { listing_id, quantity } = body.into_inner();
    if !(1..=10_000).contains(&quantity) {
        return HttpResponse::UnprocessableEntity()
            .json(json!({"error": "invalid_quantity", "message": "1 to 10,000 units"}));
    }
    match state.store.order(listing_id.clone(), user.clone(), quantity).await {
        Ok(id) => HttpResponse::Created().json(json!({
            "id": id, "room_id": room.into_inner(), "listing_id": listing_id, "user_id": user,
            "quantity": quantity, "status": "reserved",
        })),
        Err(refusal) => refusal.response(),
    }
}
