//! Wiring: builds the adapters, the actor directory and the HTTP server. Nothing else does.

use crate::application::identity::password::Passwords;
use crate::application::issue_coupon::IssueCoupon;
use crate::application::{Probes, Services};
use crate::external::stream::TencentSigner;
use crate::gateway::limits::Limits;
use crate::gateway::ws::upgrade::AllowedOrigins;
use crate::gateway::{self, auth::TokenKeys, input};
use crate::infrastructure::db::file_lock::FileLock;
use crate::infrastructure::db::{build_pool, migrate, Backend, Connector};
use crate::infrastructure::event_bus::InProcessBus;
use crate::infrastructure::journal::{JournalSettings, SqlJournal};
use crate::infrastructure::leases::SqlLeases;
use crate::infrastructure::repos::Storage;
use crate::infrastructure::room_store::SqlRoomStore;
use crate::infrastructure::{outbox_relay, redis_pool};
use crate::settings::Settings;
use actix_web::dev::{Server, ServerHandle};
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use livecart_actors::directory::{Directory, DirectorySettings};
use livecart_actors::room::{RateLimit, RoomConfig};
use livecart_actors::session::SessionConfig;
use livecart_actors::SystemClock;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

pub struct Application {
    port: u16,
    server: Server,
    services: Services,
    /// SQLite only: this process's hold on the database file, let go when the app stops.
    file_lock: Option<FileLock>,
}

impl Application {
    /// Connects storage, runs migrations, starts the journal, relay and directory, and binds.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let connector = Connector::new(&settings.database.url);
        let backend = connector.backend();
        let file_lock = match backend {
            Backend::Sqlite => {
                let path = std::path::PathBuf::from(settings.database.url.trim_start_matches("sqlite://"));
                let held = path.clone();
                let lock = tokio::task::spawn_blocking(move || FileLock::hold(&held, Duration::from_secs(5))).await??;
                tracing::info!(database.path = %path.display(), database.lock = %lock.path().display(), "holding the SQLite database for this process");
                Some(lock)
            }
            Backend::Postgres => None,
        };
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
        let journal_settings = JournalSettings {
            max_batch: settings.orders.journal_max_batch,
            queue_capacity: settings.orders.journal_queue,
            commit_timeout: Duration::from_millis(settings.orders.commit_timeout_ms),
        };
        let journal = SqlJournal::start(connector.clone(), journal_settings, committed.clone())
            .context("cannot start the journal")?;
        let journal_health = journal.health();
        // The relay and its consumers write derived data that is redone if lost: their own
        // connections, with commits that do not wait for the disk.
        let relay_pool = build_pool(connector.clone().relaxed(), 2).context("cannot open the relay's connections")?;
        let relay_storage = Storage::new(relay_pool);
        let bus = InProcessBus::new(vec![Arc::new(IssueCoupon::new(relay_storage.clone()))]);
        let relay_health = outbox_relay::spawn(relay_storage, Arc::new(bus), committed);
        let node = uuid::Uuid::new_v4().to_string();
        let lease_ttl = Duration::from_millis(settings.ownership.lease_ttl_ms.max(300));
        let leases = SqlLeases::new(connector.clone(), node.clone(), lease_ttl);
        tracing::info!(node.id = %node, lease.ttl_ms = lease_ttl.as_millis() as u64, "node identity for room leases");

        let arbiters = match settings.actors.arbiters {
            0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            n => n,
        };
        let directory = Directory::new(
            Arc::new(SqlRoomStore::new(storage.clone())),
            Arc::new(leases),
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
        let directory = Arc::new(directory);
        let redis = match settings.redis.url.as_str() {
            "" => None,
            url => Some(redis_pool::build(url).context("the Redis URL is not valid")?),
        };
        let renewing = directory.clone();
        actix_web::rt::spawn(async move {
            let mut every = tokio::time::interval(lease_ttl / 3);
            loop {
                every.tick().await;
                renewing.renew_leases().await;
            }
        });
        let stream = &settings.stream;
        let services = Services {
            storage,
            directory,
            probes: Arc::new(Probes {
                journal: journal_health,
                relay: relay_health,
                redis,
            }),
            order_deadline: Duration::from_millis(settings.orders.deadline_ms),
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
        Ok(Self {
            port,
            server,
            services,
            file_lock,
        })
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

    /// Serves until the server is stopped, then gives the rooms' leases back (so another node or
    /// the next process takes them at once) and lets go of the SQLite file.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        self.services.directory.release_all().await;
        drop(self.file_lock);
        served
    }
}

fn serve(listener: TcpListener, settings: &Settings, services: Services) -> anyhow::Result<Server> {
    let services = web::Data::new(services);
    let keys = web::Data::new(TokenKeys::new(&settings.auth.jwt_secret, settings.auth.token_ttl_s)?);
    let metrics = web::Data::new(crate::telemetry::prometheus());
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
            .wrap(actix_web::middleware::from_fn(gateway::metrics::record))
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
