//! `spawn_app()` and one typed helper per endpoint, in the manner of zero-to-production.

use diesel::{Connection, PgConnection, RunQueryDsl};
use livecart::application::Services;
use livecart::settings::Settings;
use livecart::startup::Application;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use uuid::Uuid;

/// The database a scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each scenario once per backend, as `<scenario>::on_sqlite` and `<scenario>::on_postgres`.
macro_rules! on_both_backends {
    ($(async fn $name:ident($backend:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn scenario($backend: $crate::helpers::Backend) $body
            #[actix_web::test]
            async fn on_sqlite() { scenario($crate::helpers::Backend::Sqlite).await }
            #[actix_web::test]
            async fn on_postgres() { scenario($crate::helpers::Backend::Postgres).await }
        }
    )*};
}

/// The PostgreSQL server the suite creates its databases on.
fn postgres_admin_url() -> String {
    std::env::var("LIVECART_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A fresh, empty database for one scenario, removed when this value is dropped: at the end of
/// the scenario, pass or fail (a failing assertion unwinds through it). Keep it for as long as
/// anything runs on the database; apps started from it share it (`spawn_app_on`).
pub struct TestDatabase {
    pub url: String,
    place: Place,
}

/// Where a test database lives.
enum Place {
    /// A PostgreSQL database, by name.
    Postgres(String),
    /// A SQLite file.
    Sqlite(std::path::PathBuf),
}

pub fn fresh_database(backend: Backend) -> TestDatabase {
    let name = format!("livecart_test_{}", Uuid::new_v4().simple());
    match backend {
        Backend::Sqlite => {
            let path = std::env::temp_dir().join(format!("{name}.db"));
            TestDatabase {
                url: format!("sqlite://{}", path.display()),
                place: Place::Sqlite(path),
            }
        }
        Backend::Postgres => {
            let admin = postgres_admin_url();
            let mut conn = PgConnection::establish(&admin)
                .unwrap_or_else(|e| panic!("PostgreSQL must be reachable at {admin} (scripts/test starts it): {e}"));
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .expect("create test database");
            let base = admin
                .rsplit_once('/')
                .map(|(base, _)| base)
                .unwrap_or(&admin)
                .to_owned();
            TestDatabase {
                url: format!("{base}/{name}"),
                place: Place::Postgres(name),
            }
        }
    }
}

/// A PostgreSQL database's URL whose database does not exist yet (for the server to create);
/// removed, if it was made, when this value is dropped.
pub fn unmade_postgres_database() -> TestDatabase {
    let made = fresh_database(Backend::Postgres);
    let _ = made.remove();
    made
}

/// The PostgreSQL server's address as the suite reaches it: `postgres://USER@HOST:PORT`.
pub fn postgres_server_url() -> String {
    let admin = postgres_admin_url();
    admin
        .rsplit_once('/')
        .map(|(base, _)| base)
        .unwrap_or(&admin)
        .to_owned()
}

/// Runs one statement on the suite's PostgreSQL server (roles, grants), outside any test database.
pub fn on_postgres_server(statement: &str) -> Result<(), String> {
    let mut conn = PgConnection::establish(&postgres_admin_url()).map_err(|e| e.to_string())?;
    diesel::sql_query(statement)
        .execute(&mut conn)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

impl TestDatabase {
    fn remove(&self) -> Result<(), String> {
        match &self.place {
            Place::Sqlite(path) => {
                // The file, its WAL and shared memory, and the lock file that keeps a second
                // process off it.
                for suffix in ["", "-wal", "-shm", "-journal", ".lock"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    match std::fs::remove_file(&file) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.to_string()),
                        _ => {}
                    }
                }
                Ok(())
            }
            Place::Postgres(name) => {
                let mut conn = PgConnection::establish(&postgres_admin_url()).map_err(|e| e.to_string())?;
                // FORCE: an app under test may still hold connections (its journal and relay
                // outlive the scenario's last await); they are cut, and nothing polls them again.
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Never panic here: this may run while a failed assertion unwinds.
        if let Err(e) = self.remove() {
            eprintln!("note: test database {} was left behind: {e}", self.url);
        }
    }
}

/// What an app runs on: a test database it keeps alive, or the URL of one the test keeps (a
/// proxy's address, say).
pub enum AppDatabase {
    Owned(Arc<TestDatabase>),
    Url(String),
}

impl AppDatabase {
    fn url(&self) -> &str {
        match self {
            AppDatabase::Owned(database) => &database.url,
            AppDatabase::Url(url) => url,
        }
    }
}

impl From<TestDatabase> for AppDatabase {
    fn from(database: TestDatabase) -> Self {
        AppDatabase::Owned(Arc::new(database))
    }
}

impl From<String> for AppDatabase {
    fn from(url: String) -> Self {
        AppDatabase::Url(url)
    }
}

/// A livecart server reached over HTTP: the in-process app, or a server process.
pub struct Api {
    pub address: String,
    pub client: reqwest::Client,
}

impl Api {
    pub fn new(address: String) -> Api {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(512)
            // Below the server's keep-alive (actix-http's 5 s): a connection idle for about that
            // long could be sent a request just as the server closes it, and the request fails
            // with `IncompleteMessage`. A test that idles ~5 s between two calls (a WebSocket
            // flood, then `POST …/end`) failed that way about one run in six on PostgreSQL.
            .pool_idle_timeout(std::time::Duration::from_secs(2))
            .build()
            .expect("client");
        Api { address, client }
    }
}

pub struct TestApp {
    pub api: Api,
    pub database_url: String,
    /// Keeps the database for as long as this app, or a restart of it (`stop`), runs on it.
    database: AppDatabase,
    pub services: Services,
    /// The SQL store behind the services' ports, for reading what the database holds.
    pub storage: livecart::infrastructure::repos::Storage,
    handle: actix_web::dev::ServerHandle,
    /// The app's run: it ends once the server stopped, the leases are back and the file is free.
    run: actix_web::rt::task::JoinHandle<std::io::Result<()>>,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_on(fresh_database(backend)).await
}

/// Starts the app on an existing database (a restart keeps its data: pass what `stop` returned).
pub async fn spawn_app_on(database: impl Into<AppDatabase>) -> TestApp {
    spawn_app_with(database, |_| {}).await
}

/// Starts the app with settings adjusted by `tweak` (the test settings turn limits off).
pub async fn spawn_app_with(database: impl Into<AppDatabase>, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with_clock(database, std::sync::Arc::new(livecart_actors::SystemClock), tweak).await
}

/// Starts the app reading `clock` for every decision (sale windows, deadlines, webhooks).
pub async fn spawn_app_with_clock(
    database: impl Into<AppDatabase>,
    clock: std::sync::Arc<dyn livecart_actors::Clock>,
    tweak: impl FnOnce(&mut Settings),
) -> TestApp {
    let database = database.into();
    let database_url = database.url().to_owned();
    // Quiet by default: several scenarios break storage on purpose, and the server's ERROR lines
    // about it would read like a broken run. `RUST_LOG=warn scripts/test …` shows them; a server
    // started as a process keeps its log in a file that a failing test prints.
    livecart::telemetry::init_with_default("off", livecart::settings::LogFormat::Text);
    let mut settings = Settings::load_for("test").expect("test settings");
    tweak(&mut settings);
    settings.database.url = database_url.clone();
    settings.server.bind = "127.0.0.1:0".into();
    let app = Application::build_with_clock(settings, clock)
        .await
        .expect("the app starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let services = app.services().clone();
    let storage = app.storage().clone();
    let handle = app.handle();
    let run = actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        api: Api::new(address),
        database_url,
        database,
        services,
        storage,
        handle,
        run,
    }
}

pub struct User {
    pub id: Uuid,
    pub token: String,
}

impl std::ops::Deref for TestApp {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

impl TestApp {
    /// Stops accepting requests and waits for in-flight ones. Returns the database, for a
    /// restart on it; dropping it removes the database.
    pub async fn stop(self) -> AppDatabase {
        self.handle.stop(true).await;
        let _ = self.run.await;
        self.database
    }

    /// Orders of the listing as the database holds them.
    pub async fn stored_orders(&self, listing: Uuid) -> Vec<livecart_actors::order::Order> {
        self.storage.orders_of_listing(listing).await.expect("orders readable")
    }
}

impl Api {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        let mut req = self.client.post(self.url(path)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
            .await
            .unwrap_or_else(|e| panic!("the order request failed: {e:?}"))
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
            .await
            .unwrap_or_else(|e| panic!("the order request failed: {e:?}"))
    }

    pub async fn register(&self, username: &str, role: &str) -> Response {
        let body = json!({"username": username, "password": "correct-horse-battery", "role": role});
        self.post("/v1/auth/register", None, body).await
    }

    pub async fn merchant(&self) -> User {
        let name = format!("m{}", &Uuid::new_v4().simple().to_string()[..12]);
        user_of(self.register(&name, "merchant").await).await
    }

    pub async fn guest(&self) -> User {
        user_of(self.post("/v1/auth/guest", None, json!({"nickname": "viewer"})).await).await
    }

    pub async fn guests(&self, n: usize) -> Vec<User> {
        let mut users = Vec::with_capacity(n);
        for chunk in (0..n).collect::<Vec<_>>().chunks(50) {
            let batch = futures_util::future::join_all(chunk.iter().map(|_| self.guest())).await;
            users.extend(batch);
        }
        users
    }

    /// A room owned by `merchant`, scheduled.
    pub async fn room(&self, merchant: &User) -> Uuid {
        let res = self
            .post("/v1/rooms", Some(&merchant.token), json!({"title": "Flash night"}))
            .await;
        id_of(expect_status(res, StatusCode::CREATED).await)
    }

    /// A live room of `merchant`.
    pub async fn live_room(&self, merchant: &User) -> Uuid {
        let room = self.room(merchant).await;
        self.start(merchant, room).await;
        room
    }

    pub async fn start(&self, merchant: &User, room: Uuid) {
        let res = self
            .post(&format!("/v1/rooms/{room}/start"), Some(&merchant.token), json!({}))
            .await;
        expect_status(res, StatusCode::OK).await;
    }

    pub async fn listing(&self, merchant: &User, room: Uuid, body: Value) -> Uuid {
        let res = self
            .post(&format!("/v1/rooms/{room}/listings"), Some(&merchant.token), body)
            .await;
        id_of(expect_status(res, StatusCode::CREATED).await)
    }

    /// A listing of `stock` units, at most `limit` per buyer, open while the room is live.
    pub async fn simple_listing(&self, merchant: &User, room: Uuid, stock: u64, limit: u32) -> Uuid {
        let body = json!({"title": "Jasmine tea", "price_cents": 1999, "stock": stock, "per_user_limit": limit});
        self.listing(merchant, room, body).await
    }

    pub async fn order(&self, buyer: &User, room: Uuid, listing: Uuid, quantity: Value, key: Option<&str>) -> Response {
        let mut req = self
            .client
            .post(self.url(&format!("/v1/rooms/{room}/orders")))
            .bearer_auth(&buyer.token)
            .json(&json!({"listing_id": listing, "quantity": quantity}));
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        req.send()
            .await
            .unwrap_or_else(|e| panic!("the order request failed: {e:?}"))
    }

    pub async fn stock_left(&self, room: Uuid, listing: Uuid) -> u64 {
        let res = self.get(&format!("/v1/rooms/{room}/listings"), None).await;
        let listings = expect_status(res, StatusCode::OK).await;
        let found = listings
            .as_array()
            .expect("an array")
            .iter()
            .find(|l| l["id"] == json!(listing))
            .expect("the listing is listed")
            .clone();
        found["stock_left"].as_u64().expect("stock_left")
    }
}

pub async fn expect_status(res: Response, status: StatusCode) -> Value {
    let got = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "unexpected status; body: {body}");
    body
}

/// Asserts the contract's error shape and code.
pub async fn expect_error(res: Response, status: StatusCode, code: &str) {
    let body = expect_status(res, status).await;
    assert_eq!(body["error"], code, "body: {body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "body: {body}");
}

pub fn id_of(body: Value) -> Uuid {
    body["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no id in {body}"))
}

async fn user_of(res: Response) -> User {
    let status = res.status();
    let body: Value = res.json().await.expect("json body");
    assert!(status.is_success(), "{status}: {body}");
    User {
        id: body["user_id"].as_str().and_then(|s| s.parse().ok()).expect("user_id"),
        token: body["token"].as_str().expect("token").to_owned(),
    }
}

/// One number from the database, read straight (not through livecart): `sql` selects it as `n`.
pub fn query_number(database_url: &str, sql: &str) -> i64 {
    use diesel::{QueryableByName, SqliteConnection};
    #[derive(QueryableByName)]
    struct Number {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let row: Number = match database_url.strip_prefix("sqlite://") {
        Some(path) => {
            let mut conn = SqliteConnection::establish(path).expect("sqlite");
            diesel::sql_query(sql).get_result(&mut conn).expect("a number")
        }
        None => {
            let mut conn = PgConnection::establish(database_url).expect("postgres");
            diesel::sql_query(sql).get_result(&mut conn).expect("a number")
        }
    };
    row.n
}

/// xorshift64*: small, and the same sequence for the same seed on every machine, so a failure
/// of a randomized test replays from its printed seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// `min` and up to `span - 1` more random bytes.
    pub fn bytes(&mut self, min: usize, span: usize) -> Vec<u8> {
        let len = min + self.below(span);
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// Printable and not: `min` and up to `span - 1` more of any `char`, surrogates excepted.
    pub fn text(&mut self, min: usize, span: usize) -> String {
        let len = min + self.below(span);
        (0..len)
            .map(|_| char::from_u32((self.next() % 0x11_0000) as u32).unwrap_or('\u{fffd}'))
            .collect()
    }
}

/// A seed for a randomized test: `var` when set (to replay a failure), else a new one.
pub fn seed_from_env(var: &str) -> u64 {
    std::env::var(var).ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        now.map(|d| d.as_nanos() as u64).unwrap_or(1)
    })
}
