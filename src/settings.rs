//! Settings: `config/default.toml` (compiled in) → `config/{LIVECART_ENV}.toml` →
//! `LIVECART__SECTION__KEY` environment variables. Named `settings` so it does not shadow the
//! `config` crate.

use config::{Config, Environment, File, FileFormat, Map};
use serde::Deserialize;

const DEFAULTS: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// `development` unless `LIVECART_ENV` says otherwise.
    #[serde(default = "development")]
    pub env: String,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub auth: AuthSettings,
    pub limits: LimitSettings,
    pub orders: OrderSettings,
    pub stream: StreamSettings,
    pub actors: ActorSettings,
    pub ownership: OwnershipSettings,
    pub payments: PaymentSettings,
}

fn development() -> String {
    "development".into()
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub bind: String,
    /// On SIGTERM or SIGINT, how long in-flight requests may take to finish before the process
    /// exits anyway.
    pub shutdown_timeout_s: u64,
    pub allowed_origins: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    pub url: String,
    pub pool_size: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RedisSettings {
    /// Empty: no Redis, and events go through the in-process bus.
    pub url: String,
    pub events: EventStreamSettings,
}

/// The Redis Streams event bus, used when `redis.url` is set.
#[derive(Debug, Clone, Deserialize)]
pub struct EventStreamSettings {
    /// The stream the outbox relay appends every event to.
    pub stream: String,
    /// `XADD MAXLEN ~`: the stream is trimmed to about this many entries (see `config/default.toml`).
    pub max_len: usize,
    /// Whether this node runs the event consumers (coupons); a node that only publishes says false.
    pub consume: bool,
    /// Entries a consumer reads, handles and acknowledges at once.
    pub read_batch: usize,
    /// How long a consumer's read waits for new entries before it looks for abandoned ones.
    pub read_block_ms: u64,
    /// Entries delivered but unacknowledged this long are taken over by another consumer: their
    /// consumer died, or is stuck. Longer than a batch ever takes to handle.
    pub claim_min_idle_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuthSettings {
    pub jwt_secret: String,
    pub token_ttl_s: i64,
    /// Password hashes computed at once (19 MiB each); 0 means twice the cores.
    pub max_concurrent_hashes: usize,
    /// How long a register or login waits for a hashing turn before 503 `unavailable`.
    pub hash_wait_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LimitSettings {
    pub enabled: bool,
    pub max_body_bytes: usize,
    pub auth_per_second: u32,
    pub auth_burst: u32,
    pub orders_per_second: u32,
    pub orders_burst: u32,
    pub websockets_per_ip: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrderSettings {
    pub reservation_ttl_s: i64,
    pub journal_max_batch: usize,
    /// Entries waiting for the journal beyond this are refused at once (503).
    pub journal_queue: usize,
    /// A commit not answered by then is resolved as ambiguous (see the journal).
    pub commit_timeout_ms: u64,
    /// An order not decided and durable by then is answered 503 with Retry-After.
    pub deadline_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PaymentSettings {
    /// The secret the provider signs its webhooks with (HMAC-SHA256).
    pub webhook_secret: String,
    /// A webhook whose signed timestamp is further than this from the server's time is refused.
    pub webhook_tolerance_s: u64,
    pub sandbox: SandboxPaymentSettings,
}

/// The built-in sandbox provider, which behaves like a real one.
#[derive(Debug, Clone, Deserialize)]
pub struct SandboxPaymentSettings {
    /// How long after a payment starts its webhook comes.
    pub delay_ms: u64,
    /// `succeed` or `fail`: what the sandbox reports for every payment.
    pub outcome: String,
    /// How many times each webhook is delivered (a real provider may repeat itself).
    pub repeat: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OwnershipSettings {
    /// How long a room's lease lasts without renewal; renewed every third of it.
    pub lease_ttl_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StreamSettings {
    pub push_domain: String,
    pub play_domain: String,
    pub app_name: String,
    pub push_key: String,
    pub push_url_ttl_s: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ActorSettings {
    pub arbiters: usize,
    /// A room with nobody connected and no listing activity for this long is stopped (and
    /// rebuilt from storage on its next request); 0 keeps rooms forever.
    pub passivate_after_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("settings could not be read: {0}")]
    Read(#[from] config::ConfigError),
    #[error("refusing to start outside development and test with the development {0}: set it in the environment")]
    DefaultSecret(&'static str),
}

/// The process environment's variables that are valid UTF-8; others cannot be settings, and
/// `std::env::vars` would panic on them.
fn process_environment() -> Map<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

impl Settings {
    /// Reads the layers for `LIVECART_ENV` (default `development`).
    pub fn load() -> Result<Self, SettingsError> {
        let vars = process_environment();
        let env = vars.get("LIVECART_ENV").cloned().unwrap_or_else(development);
        Self::load_from(&env, vars)
    }

    /// As [`Settings::load`], for the given environment name, reading the process environment.
    pub fn load_for(env: &str) -> Result<Self, SettingsError> {
        Self::load_from(env, process_environment())
    }

    /// The layers for `env`, with `vars` standing in for the process environment: tests (which
    /// run in parallel threads) pass their variables here instead of mutating the process's.
    pub fn load_from(env: &str, vars: Map<String, String>) -> Result<Self, SettingsError> {
        let mut builder = Config::builder()
            .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
            .add_source(File::with_name(&format!("config/{env}")).required(false))
            .add_source(
                Environment::with_prefix("LIVECART")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    .list_separator(",")
                    .with_list_parse_key("server.allowed_origins")
                    .source(Some(vars.clone())),
            )
            .set_override("env", env)?;
        if env == "production" {
            builder = builder
                .set_override_option("database.url", vars.get("DATABASE_URL").cloned())?
                .set_override_option("redis.url", vars.get("REDIS_URL").cloned())?;
        }
        let settings: Settings = builder.build()?.try_deserialize()?;
        settings.refuse_development_secrets()?;
        Ok(settings)
    }

    /// The compiled-in secrets are public (they are in this repository), so only a developer's
    /// machine and the test suite may run with them; any other environment — `production`, but
    /// also `staging`, `demo` or a misspelt name — must bring its own.
    fn refuse_development_secrets(&self) -> Result<(), SettingsError> {
        if matches!(self.env.as_str(), "development" | "test") {
            return Ok(());
        }
        let defaults: Settings = Config::builder()
            .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
            .build()?
            .try_deserialize()?;
        if self.auth.jwt_secret == defaults.auth.jwt_secret {
            return Err(SettingsError::DefaultSecret("JWT secret (LIVECART__AUTH__JWT_SECRET)"));
        }
        if self.stream.push_key == defaults.stream.push_key {
            return Err(SettingsError::DefaultSecret(
                "stream push key (LIVECART__STREAM__PUSH_KEY)",
            ));
        }
        if self.payments.webhook_secret == defaults.payments.webhook_secret {
            return Err(SettingsError::DefaultSecret(
                "payment webhook secret (LIVECART__PAYMENTS__WEBHOOK_SECRET)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Map<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn the_compiled_in_defaults_are_complete() {
        let settings = Settings::load_from("development", vars(&[])).expect("defaults load");
        assert_eq!(settings.server.bind, "127.0.0.1:8080");
        assert!(settings.database.url.starts_with("sqlite://"));
    }

    #[test]
    fn production_refuses_the_development_jwt_secret() {
        let err = Settings::load_from("production", vars(&[])).expect_err("must refuse");
        assert!(matches!(err, SettingsError::DefaultSecret(_)), "{err}");
    }

    #[test]
    fn staging_refuses_the_development_jwt_secret() {
        let err = Settings::load_from("staging", vars(&[])).expect_err("must refuse");
        assert!(
            matches!(err, SettingsError::DefaultSecret(what) if what.contains("JWT")),
            "{err}"
        );
    }

    #[test]
    fn staging_refuses_the_development_push_key_even_with_a_real_jwt_secret() {
        let env = vars(&[("LIVECART__AUTH__JWT_SECRET", "a-staging-secret-of-some-length")]);
        let err = Settings::load_from("staging", env).expect_err("must refuse");
        assert!(
            matches!(err, SettingsError::DefaultSecret(what) if what.contains("push key")),
            "{err}"
        );
    }

    #[test]
    fn staging_starts_with_secrets_from_the_environment() {
        let env = vars(&[
            ("LIVECART__AUTH__JWT_SECRET", "a-staging-secret-of-some-length"),
            ("LIVECART__STREAM__PUSH_KEY", "a-staging-push-key"),
            ("LIVECART__PAYMENTS__WEBHOOK_SECRET", "whsec-a-staging-secret"),
        ]);
        let settings = Settings::load_from("staging", env).expect("real secrets are accepted");
        assert_eq!(settings.auth.jwt_secret, "a-staging-secret-of-some-length");
        assert_eq!(settings.env, "staging");
    }

    #[test]
    fn production_refuses_the_development_webhook_secret() {
        let env = vars(&[
            ("LIVECART__AUTH__JWT_SECRET", "a-production-secret-of-some-length"),
            ("LIVECART__STREAM__PUSH_KEY", "a-production-push-key"),
        ]);
        let err = Settings::load_from("production", env).expect_err("must refuse");
        assert!(
            matches!(err, SettingsError::DefaultSecret(what) if what.contains("webhook")),
            "{err}"
        );
    }

    #[test]
    fn development_and_test_keep_the_development_secrets() {
        for env in ["development", "test"] {
            Settings::load_from(env, vars(&[])).unwrap_or_else(|e| panic!("{env}: {e}"));
        }
    }
}
