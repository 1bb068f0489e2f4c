//! Wiring: builds the adapters, the actor directory and the HTTP server. Nothing else does.

use crate::application::identity::password::Passwords;
use crate::application::issue_coupon::IssueCoupon;
use crate::application::payment_provider::PaymentOutcome;
use crate::application::ports::stream::StreamSigner;
use crate::application::wake_reserved_rooms::wake_reserved_rooms;
use crate::application::{Probes, Services};
use crate::external::sandbox_payments::{SandboxBehaviour, SandboxPayments};
use crate::external::stream::TencentSigner;
use crate::gateway::limits::Limits;
use crate::gateway::shared_app::SharedApp;
use crate::gateway::ws::upgrade::AllowedOrigins;
use crate::gateway::{self, auth::TokenKeys, input};
use crate::infrastructure::committed_feed::CommittedFeed;
use crate::infrastructure::db::checkpointer::Checkpointer;
use crate::infrastructure::db::file_lock::FileLock;
use crate::infrastructure::db::{build_pool, migrate, Backend, Connector};
use crate::infrastructure::event_bus::{EventBus, InProcessBus};
use crate::infrastructure::journal::{JournalSettings, SqlJournal};
use crate::infrastructure::leases::SqlLeases;
use crate::infrastructure::probes::RedisPing;
use crate::infrastructure::repos::outbox::RelayPosition;
use crate::infrastructure::repos::Storage;
use crate::infrastructure::room_store::SqlRoomStore;
use crate::infrastructure::snapshots::{RedisSnapshots, SqlSnapshots};
use crate::infrastructure::streams::consumer::{self as stream_consumer, Consumer};
use crate::infrastructure::streams::{EventStream, RedisStreamBus};
use crate::infrastructure::{outbox_relay, redis_pool};
use crate::settings::Settings;
use actix_http::HttpService;
use actix_service::IntoServiceFactory;
use actix_web::dev::{AppConfig, Server, ServerHandle};
use actix_web::{web, App};
use anyhow::Context;
use deadpool_redis::redis;
use livecart_actors::directory::{Directory, DirectorySettings};
use livecart_actors::room::{RateLimit, RoomConfig};
use livecart_actors::session::SessionConfig;
use livecart_actors::snapshot::SnapshotStore;
use livecart_actors::{Clock, SystemClock};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

/// How often rooms with reservations are looked for (the first look is at start).
const WAKE_RESERVED_ROOMS_EVERY: Duration = Duration::from_secs(300);

/// The coupon issuer's consumer group on the Redis event stream. A later consumer (the room's
/// stock notices, say) takes a group of its own and sees every event again.
pub const COUPON_GROUP: &str = "marketing.coupons";

pub struct Application {
    port: u16,
    server: Server,
    services: Services,
    /// The SQL store behind the services' ports, for tests and tools that read it directly.
    storage: Storage,
    /// How far the outbox relay has published: saved once more when the app stops.
    relay_position: Arc<RelayPosition>,
    /// SQLite only: copies the log into the database file; stops with the app.
    _checkpointer: Option<Checkpointer>,
    /// SQLite only: this process's hold on the database file, let go when the app stops.
    file_lock: Option<FileLock>,
}

impl Application {
    /// Connects storage, runs migrations, starts the journal, relay and directory, and binds.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// As `build`, with the clock every decision reads (sale windows, reservation deadlines,
    /// webhook timestamps): tests move a manual one instead of waiting.
    pub async fn build_with_clock(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        // The recorder first: what starting up records (leases, the journal's first write turn,
        // listings loaded) is kept, and handles made once (`write_turn`, `order_metrics`) are
        // never made before it, which would leave them recording nowhere for good.
        crate::telemetry::prometheus();
        let connector =
            Connector::new(&settings.database.url).busy_timeout_ms(settings.database.sqlite_busy_timeout_ms);
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
        let storage = Storage::new(pool, &connector);

        let committed = Arc::new(CommittedFeed::default());
        let journal_settings = JournalSettings {
            max_batch: settings.orders.journal_max_batch,
            queue_capacity: settings.orders.journal_queue,
            commit_timeout: Duration::from_millis(settings.orders.commit_timeout_ms),
        };
        let checkpointer = Checkpointer::start(&connector).context("cannot start the SQLite checkpointer")?;
        let relay_position = Arc::new(RelayPosition::default());
        let journal = SqlJournal::start(
            connector.clone(),
            journal_settings,
            committed.clone(),
            relay_position.clone(),
        )
        .context("cannot start the journal")?;
        let journal_health = journal.health();
        // The relay and its consumers write derived data that is redone if lost: their own
        // connections, with commits that do not wait for the disk.
        let relay_pool = build_pool(connector.clone().relaxed(), 2).context("cannot open the relay's connections")?;
        let relay_storage = Storage::new(relay_pool, &connector);
        let node = uuid::Uuid::new_v4().to_string();
        let redis = match settings.redis.url.as_str() {
            "" => None,
            url => Some(redis_pool::build(url).context("the Redis URL is not valid")?),
        };
        let coupons = Consumer {
            group: COUPON_GROUP.to_owned(),
            handler: Arc::new(IssueCoupon::new(Arc::new(relay_storage.clone()))),
        };
        let bus: Arc<dyn EventBus> = match &redis {
            None => Arc::new(InProcessBus::new(vec![coupons.handler])),
            Some(pool) => {
                let stream = EventStream::from(&settings.redis.events);
                if settings.redis.events.consume {
                    let client =
                        redis::Client::open(settings.redis.url.as_str()).context("the Redis URL is not valid")?;
                    stream_consumer::spawn(client, stream.clone(), node.clone(), coupons);
                }
                Arc::new(RedisStreamBus::new(pool.clone(), stream))
            }
        };
        let relay_health = outbox_relay::spawn(
            relay_storage.clone(),
            bus,
            committed,
            relay_position.clone(),
            journal.barrier(),
        );
        let lease_ttl = Duration::from_millis(settings.ownership.lease_ttl_ms.max(300));
        let leases = SqlLeases::new(connector.clone(), node.clone(), lease_ttl);
        tracing::info!(node.id = %node, lease.ttl_ms = lease_ttl.as_millis() as u64, "node identity for room leases");

        let arbiters = match settings.actors.arbiters {
            0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            n => n,
        };
        // Snapshots of room and listing state go to Redis when configured, else to the SQL database.
        let snapshots: Arc<dyn SnapshotStore> = match &redis {
            Some(pool) => Arc::new(RedisSnapshots::new(pool.clone())),
            None => Arc::new(SqlSnapshots::new(relay_storage.clone())),
        };
        let stream = &settings.stream;
        let signer: Arc<dyn StreamSigner> = Arc::new(TencentSigner {
            push_domain: stream.push_domain.clone(),
            play_domain: stream.play_domain.clone(),
            app_name: stream.app_name.clone(),
            key: stream.push_key.clone(),
        });
        let directory = Directory::new(
            Arc::new(SqlRoomStore::new(storage.clone(), signer.clone(), snapshots.clone())),
            Arc::new(leases),
            Arc::new(journal),
            clock.clone(),
            snapshots,
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
        let renewing = directory.clone();
        actix_web::rt::spawn(async move {
            let mut every = tokio::time::interval(lease_ttl / 3);
            loop {
                every.tick().await;
                renewing.renew_leases().await;
            }
        });
        let stream = &settings.stream;
        let payments = Arc::new(sandbox_payments(&settings, clock.clone())?);
        let repos = Arc::new(storage.clone());
        let services = Services {
            draining: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            users: repos.clone(),
            rooms: repos.clone(),
            listings: repos.clone(),
            orders: repos.clone(),
            marketing: repos.clone(),
            payment_records: repos.clone(),
            directory,
            probes: Arc::new(Probes {
                database: repos,
                journal: journal_health,
                relay: relay_health,
                redis: redis.map(|pool| Arc::new(RedisPing(pool)) as _),
            }),
            order_deadline: Duration::from_millis(settings.orders.deadline_ms),
            clock: clock.clone(),
            payments: payments.clone(),
            signer: signer.clone(),
            push_url_ttl: chrono::Duration::seconds(stream.push_url_ttl_s),
            passwords: Arc::new(Passwords::new(
                settings.auth.max_concurrent_hashes,
                std::time::Duration::from_millis(settings.auth.hash_wait_ms),
            )),
        };

        if settings.actors.passivate_after_ms > 0 {
            let idle_after = Duration::from_millis(settings.actors.passivate_after_ms);
            let passivating = services.directory.clone();
            actix_web::rt::spawn(async move {
                let mut every =
                    tokio::time::interval((idle_after / 4).clamp(Duration::from_millis(50), Duration::from_secs(30)));
                loop {
                    every.tick().await;
                    passivating.passivate_idle(idle_after).await;
                }
            });
        }
        let waking = services.clone();
        actix_web::rt::spawn(async move {
            let mut every = tokio::time::interval(WAKE_RESERVED_ROOMS_EVERY);
            loop {
                every.tick().await;
                if let Err(err) = wake_reserved_rooms(&waking).await {
                    tracing::warn!(error = %err, "rooms with reservations could not be listed; will retry");
                }
            }
        });

        let listener = TcpListener::bind(&settings.server.bind)
            .with_context(|| format!("cannot listen on {}", settings.server.bind))?;
        let port = listener.local_addr()?.port();
        payments.call_back_to(format!("http://127.0.0.1:{port}/v1/payments/webhook"));
        let server = serve(listener, &settings, services.clone())?;
        tracing::info!(server.port = port, "livecart listening");
        Ok(Self {
            port,
            server,
            services,
            storage,
            relay_position,
            _checkpointer: checkpointer,
            file_lock,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until the server is stopped, then gives the rooms' leases back (so another node or
    /// the next process takes them at once) and lets go of the SQLite file.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let (services, handle) = (self.services.clone(), self.server.handle());
        let signalled = actix_web::rt::spawn(async move {
            termination().await;
            shut_down(services, handle).await;
        });
        let served = self.server.await;
        signalled.abort();
        self.services.directory.release_all().await;
        outbox_relay::save_on_stop(&self.storage, &self.relay_position).await;
        drop(self._checkpointer);
        drop(self.file_lock);
        served
    }
}

/// The built-in sandbox provider, as the settings describe it.
fn sandbox_payments(settings: &Settings, clock: Arc<dyn Clock>) -> anyhow::Result<SandboxPayments> {
    let sandbox = &settings.payments.sandbox;
    let outcome = match sandbox.outcome.as_str() {
        "succeed" => PaymentOutcome::Succeeded,
        "fail" => PaymentOutcome::Failed,
        other => anyhow::bail!("payments.sandbox.outcome must be `succeed` or `fail`, not {other:?}"),
    };
    let behaviour = SandboxBehaviour {
        delay: Duration::from_millis(sandbox.delay_ms),
        outcome,
        repeat: sandbox.repeat,
    };
    Ok(SandboxPayments::new(
        settings.payments.webhook_secret.clone(),
        Duration::from_secs(settings.payments.webhook_tolerance_s),
        behaviour,
        clock,
    ))
}

fn serve(listener: TcpListener, settings: &Settings, services: Services) -> anyhow::Result<Server> {
    let services = web::Data::new(services);
    let keys = web::Data::new(TokenKeys::new(&settings.auth.jwt_secret, settings.auth.token_ttl_s)?);
    let metrics = web::Data::new(crate::telemetry::prometheus());
    let body_limit = settings.limits.max_body_bytes;
    let origins = web::Data::new(AllowedOrigins(settings.server.allowed_origins.clone()));
    let page_policy = web::Data::new(gateway::web_client::PagePolicy::new(&settings.stream.play_domain)?);
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
    let app = move || {
        App::new()
            .wrap(actix_web::middleware::Condition::new(
                access_log_enabled(),
                tracing_actix_web_lite(),
            ))
            .wrap(actix_web::middleware::from_fn(gateway::metrics::record))
            .app_data(services.clone())
            .app_data(keys.clone())
            .app_data(metrics.clone())
            .app_data(input::json_config(body_limit))
            .app_data(input::path_config())
            .app_data(input::query_config())
            .app_data(origins.clone())
            .app_data(page_policy.clone())
            .app_data(limits.clone())
            .app_data(session.clone())
            .configure(gateway::routes)
    };
    let addr = listener.local_addr()?;
    // actix-web's `HttpServer` has no upgrade hook, so the server is assembled as it assembles
    // it, from actix-server and actix-http, with the same settings, plus the takeover of upgrade
    // requests (`gateway::ws::takeover`): an upgraded WebSocket then keeps none of the HTTP/1
    // dispatcher's buffers (docs/BENCHMARKS.md, "Where an idle viewer's memory is"). Two of the
    // calls are the hidden ones `HttpServer` itself makes (`AppConfig::__priv_test_new`, the
    // builder's `graceful_shutdown_signal`): an actix-web or actix-http release that drops them
    // breaks the build, not the behaviour.
    //
    // What `HttpServer` gives its apps: the host when a request names none (HTTP/1.0), and the
    // local address.
    let app_config = AppConfig::__priv_test_new(false, addr.to_string(), addr);
    let builder = Server::build()
        // Signals are handled in `run_until_stopped`: orders are refused and viewers told to
        // reconnect before the server stops accepting.
        .disable_signals()
        .shutdown_timeout(settings.server.shutdown_timeout_s);
    let stopping = builder.graceful_shutdown_signal();
    let server = builder
        .listen("livecart-http", listener, move || {
            let stopping = stopping.clone();
            let app = SharedApp::new(app().into_factory(), app_config.clone());
            HttpService::build()
                // Idle keep-alive connections close when a graceful stop begins, instead of
                // holding the stop until its timeout.
                .graceful_shutdown_signal(move || {
                    let stopping = stopping.clone();
                    async move { stopping.notified().await }
                })
                .client_request_timeout(Duration::from_secs(5))
                .client_disconnect_timeout(Duration::from_secs(1))
                .h1_allow_half_closed(true)
                .local_addr(addr)
                // WebSocket frames are small writes that follow each other (a `stock` frame, then
                // an `order`): with Nagle's algorithm the second waits for the client's delayed
                // ACK, up to 40 ms.
                .tcp_nodelay(true)
                .upgrade(gateway::ws::takeover::service(app.clone()))
                .finish(app)
                .tcp()
        })?
        .run();
    Ok(server)
}

/// Waits for SIGTERM or SIGINT.
async fn termination() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for SIGTERM; only SIGINT stops the server gracefully");
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

/// The graceful stop: readiness fails and new orders get 503, every viewer is told to reconnect
/// (1001), and the HTTP server stops accepting and gives requests in flight (orders waiting for
/// their commit among them) until its shutdown timeout to finish.
async fn shut_down(services: Services, server: ServerHandle) {
    tracing::info!("shutting down: new orders refused, viewers told to reconnect, requests in flight finishing");
    services.draining.store(true, std::sync::atomic::Ordering::Relaxed);
    services.directory.say_goodbye();
    server.stop(true).await;
}

/// Request logging at debug level, so a load test does not drown in lines. The method and the
/// path only (`%U`), never the request line (`%r`) or the query string: the room WebSocket takes
/// its token as `?token=`, and a token must never reach the logs.
fn tracing_actix_web_lite() -> actix_web::middleware::Logger {
    actix_web::middleware::Logger::new("%{method}xi %U %s %Dms")
        .custom_request_replace("method", |req| req.method().to_string())
        .log_level(log_level())
}

/// Whether the access log would be written at all: without it at debug level the middleware is
/// left out, so a request pays nothing for lines nobody reads (it renders fields per request).
fn access_log_enabled() -> bool {
    tracing::level_filters::LevelFilter::current() >= tracing::level_filters::LevelFilter::DEBUG
}

fn log_level() -> tracing::log::Level {
    tracing::log::Level::Debug
}
