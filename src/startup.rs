//! Wiring: builds the adapters, the actor directory and the HTTP server. Nothing else does.

use crate::application::identity::password::Passwords;
use crate::application::issue_coupon::IssueCoupon;
use crate::application::Services;
use crate::external::stream::TencentSigner;
use crate::gateway::limits::Limits;
use crate::gateway::ws::upgrade::AllowedOrigins;
use crate::gateway::{self, auth::TokenKeys, input};
use crate::infrastructure::db::{build_pool, migrate, Connector};
use crate::infrastructure::event_bus::InProcessBus;
use crate::infrastructure::journal::SqlJournal;
use crate::infrastructure::outbox_relay;
use crate::infrastructure::repos::Storage;
use crate::infrastructure::room_store::SqlRoomStore;
use crate::settings::Settings;
use actix_web::dev::{Server, ServerHandle};
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use livecart_actors::directory::{Directory, DirectorySettings};
use livecart_actors::room::{RateLimit, RoomConfig};
use livecart_actors::session::SessionConfig;
use livecart_actors::SystemClock;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::net::TcpListener;
use std::sync::{Arc, OnceLock};
use tokio::sync::Notify;

pub struct Application {
    port: u16,
    server: Server,
    services: Services,
}

impl Application {
    /// Connects storage, runs migrations, starts the journal, relay and directory, and binds.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let connector = Connector::new(&settings.database.url);
        let backend = connector.backend();
        let prepared = connector.clone();
        tokio::task::spawn_blocking(move || prepared.prepare())
            .await?
            .with_context(|| format!("cannot open the {backend:?} database"))?;
        let pool = build_pool(connector.clone(), settings.database.pool_size)
            .with_context(|| format!("cannot open the {backend:?} database"))?;
        let migrations_pool = pool.clone();
        let applied = tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
            let mut conn = migrations_pool.get()?;
            migrate::run_pending(&mut conn)
        })
        .await??;
        tracing::info!(database.backend = ?backend, migrations.applied = applied, "storage ready");
        let storage = Storage::new(pool);

        let committed = Arc::new(Notify::new());
        let journal = SqlJournal::start(connector.clone(), settings.orders.journal_max_batch, committed.clone())
            .context("cannot start the journal")?;
        // The relay and its consumers write derived data that is redone if lost: their own
        // connections, with commits that do not wait for the disk.
        let relay_pool = build_pool(connector.clone().relaxed(), 2).context("cannot open the relay's connections")?;
        let relay_storage = Storage::new(relay_pool);
        let bus = InProcessBus::new(vec![Arc::new(IssueCoupon::new(relay_storage.clone()))]);
        outbox_relay::spawn(relay_storage, Arc::new(bus), committed);

        let arbiters = match settings.actors.arbiters {
            0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            n => n,
        };
        let directory = Directory::new(
            Arc::new(SqlRoomStore::new(storage.clone())),
            Arc::new(journal),
            Arc::new(SystemClock),
            DirectorySettings {
                reservation_ttl: chrono::Duration::seconds(settings.orders.reservation_ttl_s),
                arbiters,
                room: RoomConfig {
                    chat_limit: settings.limits.enabled.then_some(RateLimit {
                        per_second: 2.0,
                        burst: 5.0,
                    }),
                    ..RoomConfig::default()
                },
            },
        );
        let stream = &settings.stream;
        let services = Services {
            storage,
            directory: Arc::new(directory),
            clock: Arc::new(SystemClock),
            signer: Arc::new(TencentSigner {
                push_domain: stream.push_domain.clone(),
                play_domain: stream.play_domain.clone(),
                app_name: stream.app_name.clone(),
                key: stream.push_key.clone(),
            }),
            push_url_ttl: chrono::Duration::seconds(stream.push_url_ttl_s),
            passwords: Arc::new(Passwords::new(
                settings.auth.max_concurrent_hashes,
                std::time::Duration::from_millis(settings.auth.hash_wait_ms),
            )),
        };

        let listener = TcpListener::bind(&settings.server.bind)
            .with_context(|| format!("cannot listen on {}", settings.server.bind))?;
        let port = listener.local_addr()?.port();
        let server = serve(listener, &settings, services.clone())?;
        tracing::info!(server.port = port, "livecart listening");
        Ok(Self { port, server, services })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

fn serve(listener: TcpListener, settings: &Settings, services: Services) -> anyhow::Result<Server> {
    let services = web::Data::new(services);
    let keys = web::Data::new(TokenKeys::new(&settings.auth.jwt_secret, settings.auth.token_ttl_s)?);
    let metrics = web::Data::new(metrics_handle());
    let body_limit = settings.limits.max_body_bytes;
    let origins = web::Data::new(AllowedOrigins(settings.server.allowed_origins.clone()));
    let limits = web::Data::new(Limits::new(&settings.limits));
    let session = SessionConfig::default();
    let session = web::Data::new(SessionConfig {
        inbound_limit: session.inbound_limit.filter(|_| settings.limits.enabled),
        ..session
    });
    let forgetful = limits.clone();
    actix_web::rt::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            every.tick().await;
            forgetful.forget_idle();
        }
    });
    let server = HttpServer::new(move || {
        App::new()
            .wrap(tracing_actix_web_lite())
            .app_data(services.clone())
            .app_data(keys.clone())
            .app_data(metrics.clone())
            .app_data(input::json_config(body_limit))
            .app_data(input::path_config())
            .app_data(input::query_config())
            .app_data(origins.clone())
            .app_data(limits.clone())
            .app_data(session.clone())
            .configure(gateway::routes)
    })
    .listen(listener)?
    .run();
    Ok(server)
}

/// Request logging at debug level, so a load test does not drown in lines. The method and the
/// path only (`%U`), never the request line (`%r`) or the query string: the room WebSocket takes
/// its token as `?token=`, and a token must never reach the logs.
fn tracing_actix_web_lite() -> actix_web::middleware::Logger {
    actix_web::middleware::Logger::new("%{method}xi %U %s %Dms")
        .custom_request_replace("method", |req| req.method().to_string())
        .log_level(log_level())
}

fn log_level() -> tracing::log::Level {
    tracing::log::Level::Debug
}

/// The process-wide Prometheus recorder; installed once even when tests start many apps.
fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (embedding); ours then stays empty.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}
