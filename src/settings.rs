//! Settings: `config/default.toml` → `config/{LIVECART_ENV}.toml` → `LIVECART__SECTION__KEY`
//! environment variables. Every file of `config/` is compiled in, so the binary starts from any
//! working directory; a `config/{LIVECART_ENV}.toml` in the working directory replaces the
//! compiled-in copy of that environment (and may add an environment). Named `settings` so it
//! does not shadow the `config` crate.

use config::{Config, Environment, File, FileFormat, Map};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

const DEFAULTS: &str = include_str!("../config/default.toml");

/// The environments of this repository's `config/`, compiled in (a unit test keeps the list
/// complete).
const ENVIRONMENTS: &[(&str, &str)] = &[
    ("development", include_str!("../config/development.toml")),
    ("production", include_str!("../config/production.toml")),
    ("test", include_str!("../config/test.toml")),
];

/// Where the environment files are looked for, relative to the working directory.
const CONFIG_DIR: &str = "config";

#[derive(Debug, Clone, Deserialize, Serialize)]
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
    #[serde(default)]
    pub log: LogSettings,
}

/// How the log is written (to stderr). The level comes from `RUST_LOG` (default `info`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct LogSettings {
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event; coloured only when stderr is a terminal and `NO_COLOR` is
    /// unset, so a file or a log collector never gets escape codes.
    #[default]
    Text,
    /// One JSON object per line (timestamp, level, message, fields, span): what a log pipeline
    /// parses. Production's default.
    Json,
}

fn development() -> String {
    "development".into()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ServerSettings {
    pub bind: String,
    /// On SIGTERM or SIGINT, how long in-flight requests may take to finish before the process
    /// exits anyway.
    pub shutdown_timeout_s: u64,
    pub allowed_origins: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct DatabaseSettings {
    /// A `postgres://` URL, or a SQLite file as `sqlite://PATH`; a relative PATH is in `data_dir`.
    pub url: String,
    pub pool_size: u32,
    /// Where the embedded database lives; empty for the user's data directory (see
    /// `user_data_dir`), and made absolute (from the working directory) at load.
    pub data_dir: PathBuf,
    /// How long a SQLite statement waits for another process's write lock before failing. The
    /// writers of this process take turns among themselves and never wait here.
    #[serde(default = "default_busy_timeout_ms")]
    pub sqlite_busy_timeout_ms: u64,
}

fn default_busy_timeout_ms() -> u64 {
    10_000
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RedisSettings {
    /// Empty: no Redis, and events go through the in-process bus.
    pub url: String,
    pub events: EventStreamSettings,
}

/// The Redis Streams event bus, used when `redis.url` is set.
#[derive(Debug, Clone, Deserialize, Serialize)]
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

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AuthSettings {
    pub jwt_secret: String,
    pub token_ttl_s: i64,
    /// Password hashes computed at once (19 MiB each); 0 means twice the cores.
    pub max_concurrent_hashes: usize,
    /// How long a register or login waits for a hashing turn before 503 `unavailable`.
    pub hash_wait_ms: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct LimitSettings {
    pub enabled: bool,
    pub max_body_bytes: usize,
    pub auth_per_second: u32,
    pub auth_burst: u32,
    pub orders_per_second: u32,
    pub orders_burst: u32,
    pub websockets_per_ip: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
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

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct PaymentSettings {
    /// The secret the provider signs its webhooks with (HMAC-SHA256).
    pub webhook_secret: String,
    /// A webhook whose signed timestamp is further than this from the server's time is refused.
    pub webhook_tolerance_s: u64,
    pub sandbox: SandboxPaymentSettings,
}

/// The built-in sandbox provider, which behaves like a real one.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SandboxPaymentSettings {
    /// How long after a payment starts its webhook comes.
    pub delay_ms: u64,
    /// `succeed` or `fail`: what the sandbox reports for every payment.
    pub outcome: String,
    /// How many times each webhook is delivered (a real provider may repeat itself).
    pub repeat: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct OwnershipSettings {
    /// How long a room's lease lasts without renewal; renewed every third of it.
    pub lease_ttl_ms: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct StreamSettings {
    pub push_domain: String,
    pub play_domain: String,
    pub app_name: String,
    pub push_key: String,
    pub push_url_ttl_s: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
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
    #[error("LIVECART_ENV={env} names no configuration: the known environments are {} (or add {CONFIG_DIR}/{env}.toml to the working directory)", known.join(", "))]
    UnknownEnvironment { env: String, known: Vec<String> },
    #[error("refusing to start outside development and test with the development {0}: set it in the environment")]
    DefaultSecret(&'static str),
    #[error("cannot read {0}: {1}")]
    Unreadable(PathBuf, std::io::Error),
    #[error("database.data_dir {0:?} cannot be made absolute: {1}")]
    DataDir(PathBuf, std::io::Error),
}

/// The process environment's variables that are valid UTF-8; others cannot be settings, and
/// `std::env::vars` would panic on them.
fn process_environment() -> Map<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// `$XDG_DATA_HOME/livecart`, else `$HOME/.local/share/livecart` (the XDG default, which Linux
/// and macOS tools both read), else `./data` for a process with no home at all.
fn user_data_dir(vars: &Map<String, String>) -> PathBuf {
    let set = |name: &str| vars.get(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = set("XDG_DATA_HOME").filter(|d| d.is_absolute()) {
        return dir.join("livecart");
    }
    match set("HOME") {
        Some(home) => home.join(".local/share/livecart"),
        None => PathBuf::from("data"),
    }
}

/// What `check-config` prints in place of a secret.
const MASK: &str = "********";

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
        Self::load_in(Path::new(CONFIG_DIR), env, vars)
    }

    /// As [`Settings::load_from`], with the environment files looked for in `config_dir`.
    pub fn load_in(config_dir: &Path, env: &str, vars: Map<String, String>) -> Result<Self, SettingsError> {
        let environment = environment_text(config_dir, env)?;
        let mut builder = Config::builder()
            .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
            .add_source(File::from_str(&environment, FileFormat::Toml))
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
        let mut settings: Settings = builder.build()?.try_deserialize()?;
        settings.refuse_development_secrets()?;
        settings.place_embedded_database(&vars)?;
        Ok(settings)
    }

    /// The compiled-in secrets are public (they are in this repository), so only a developer's
    /// machine and the test suite may run with them; any other environment — `production`, but
    /// also a `staging` an operator adds — must bring its own.
    fn refuse_development_secrets(&self) -> Result<(), SettingsError> {
        if matches!(self.env.as_str(), "development" | "test") {
            return Ok(());
        }
        let defaults = Self::development_defaults()?;
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

    fn development_defaults() -> Result<Settings, SettingsError> {
        Ok(Config::builder()
            .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
            .build()?
            .try_deserialize()?)
    }

    /// Makes `data_dir` absolute and puts a relative SQLite path in it, so the database is the
    /// same file whatever the process later does with its working directory, and the startup
    /// log can say where it is.
    ///
    /// An empty `data_dir` (the default) is the user's data directory, so `cargo run` from the
    /// repository and the binary started from anywhere else open the same database.
    fn place_embedded_database(&mut self, vars: &Map<String, String>) -> Result<(), SettingsError> {
        if self.database.data_dir.as_os_str().is_empty() {
            self.database.data_dir = user_data_dir(vars);
        }
        let dir = &self.database.data_dir;
        let dir = std::path::absolute(dir).map_err(|e| SettingsError::DataDir(dir.clone(), e))?;
        if !self.database.url.starts_with("postgres://") && !self.database.url.starts_with("postgresql://") {
            let file = Path::new(self.database.url.trim_start_matches("sqlite://"));
            if file.is_relative() {
                self.database.url = format!("sqlite://{}", dir.join(file).display());
            }
        }
        self.database.data_dir = dir;
        Ok(())
    }

    /// These settings as `livecart check-config` shows them: the JWT secret, the push key and
    /// any password in the database or Redis URL replaced by a mask. A secret still at its
    /// public development value says so.
    pub fn masked(&self) -> Settings {
        let defaults = Self::development_defaults().ok();
        let secret = |value: &str, default: Option<&str>| match default {
            Some(default) if default == value => format!("{MASK} (the development default)"),
            _ if value.is_empty() => String::new(),
            _ => MASK.to_owned(),
        };
        let mut masked = self.clone();
        masked.auth.jwt_secret = secret(
            &self.auth.jwt_secret,
            defaults.as_ref().map(|d| d.auth.jwt_secret.as_str()),
        );
        masked.payments.webhook_secret = secret(
            &self.payments.webhook_secret,
            defaults.as_ref().map(|d| d.payments.webhook_secret.as_str()),
        );
        masked.stream.push_key = secret(
            &self.stream.push_key,
            defaults.as_ref().map(|d| d.stream.push_key.as_str()),
        );
        masked.database.url = mask_url_password(&self.database.url);
        masked.redis.url = mask_url_password(&self.redis.url);
        masked
    }

    /// The masked settings in the config files' own format.
    pub fn masked_toml(&self) -> String {
        // Settings are plain strings, numbers, lists and tables, which TOML always holds.
        toml::to_string_pretty(&self.masked()).unwrap_or_else(|e| format!("# cannot print the settings: {e}\n"))
    }
}

/// The file of `env`: the working directory's if there is one, else the compiled-in copy; a
/// name that is neither is refused with the list of known ones.
fn environment_text(config_dir: &Path, env: &str) -> Result<String, SettingsError> {
    let known = known_environments(config_dir);
    if !known.iter().any(|k| k == env) {
        return Err(SettingsError::UnknownEnvironment {
            env: env.to_owned(),
            known,
        });
    }
    let local = config_dir.join(format!("{env}.toml"));
    if local.is_file() {
        return std::fs::read_to_string(&local).map_err(|e| SettingsError::Unreadable(local, e));
    }
    let compiled = ENVIRONMENTS.iter().find(|(name, _)| *name == env);
    Ok(compiled.map(|(_, text)| (*text).to_owned()).unwrap_or_default())
}

/// The compiled-in environments and those with a file in `config_dir`, sorted.
pub fn known_environments(config_dir: &Path) -> Vec<String> {
    let mut known: Vec<String> = ENVIRONMENTS.iter().map(|(name, _)| (*name).to_owned()).collect();
    let files = std::fs::read_dir(config_dir).into_iter().flatten().flatten();
    for path in files.map(|entry| entry.path()) {
        let stem = path.file_stem().and_then(|s| s.to_str());
        if let (Some(stem), Some("toml")) = (stem, path.extension().and_then(|e| e.to_str())) {
            if stem != "default" {
                known.push(stem.to_owned());
            }
        }
    }
    known.sort();
    known.dedup();
    known
}

/// `scheme://user:password@host/…` (and `?password=…`) with the password masked; anything that
/// is not a URL but might hold one is masked whole.
fn mask_url_password(value: &str) -> String {
    let Ok(mut url) = url::Url::parse(value) else {
        return if value.contains('@') || value.contains("password") {
            MASK.to_owned()
        } else {
            value.to_owned()
        };
    };
    let mut changed = false;
    if url.password().is_some() {
        // Only fails for URLs that cannot have a password, and this one has one.
        changed = url.set_password(Some(MASK)).is_ok();
    }
    if url.query_pairs().any(|(k, _)| k == "password") {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "password" {
                    MASK.to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
        changed = true;
    }
    if changed {
        url.to_string()
    } else {
        value.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Map<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    /// A fresh directory standing in for a working directory's `config/`, removed when dropped.
    fn config_dir(files: &[(&str, &str)]) -> TempConfig {
        let dir = std::env::temp_dir().join(format!("livecart-config-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        for (name, text) in files {
            std::fs::write(dir.join(name), text).expect("config file");
        }
        TempConfig(dir)
    }

    struct TempConfig(PathBuf);

    impl std::ops::Deref for TempConfig {
        type Target = Path;

        fn deref(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempConfig {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const REAL_SECRETS: &[(&str, &str)] = &[
        ("LIVECART__AUTH__JWT_SECRET", "a-staging-secret-of-some-length"),
        ("LIVECART__STREAM__PUSH_KEY", "a-staging-push-key"),
        ("LIVECART__PAYMENTS__WEBHOOK_SECRET", "whsec-a-staging-secret"),
    ];

    #[test]
    fn the_compiled_in_defaults_are_complete() {
        let settings = Settings::load_from("development", vars(&[])).expect("defaults load");
        assert_eq!(settings.server.bind, "127.0.0.1:8080");
        assert!(settings.database.url.starts_with("sqlite://"));
    }

    #[test]
    fn every_file_of_the_config_folder_is_compiled_in() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(CONFIG_DIR);
        for env in known_environments(&dir) {
            let compiled = ENVIRONMENTS.iter().find(|(name, _)| *name == env);
            let file = std::fs::read_to_string(dir.join(format!("{env}.toml"))).expect("readable");
            assert_eq!(
                compiled.map(|(_, text)| *text),
                Some(file.as_str()),
                "config/{env}.toml"
            );
        }
    }

    #[test]
    fn the_compiled_in_environments_are_known_from_a_directory_without_config_files() {
        let empty = config_dir(&[]);
        for env in ["development", "production", "test"] {
            let loaded = Settings::load_in(&empty, env, vars(REAL_SECRETS));
            assert!(loaded.is_ok(), "{env}: {loaded:?}");
        }
        let test = Settings::load_in(&empty, "test", vars(&[])).expect("test loads");
        assert!(
            !test.limits.enabled,
            "config/test.toml is applied from the compiled-in copy"
        );
    }

    #[test]
    fn an_environment_without_a_config_file_is_refused_with_the_known_ones() {
        let err = Settings::load_in(&config_dir(&[]), "prod", vars(REAL_SECRETS)).expect_err("must refuse");
        let SettingsError::UnknownEnvironment { env, known } = &err else {
            panic!("{err}");
        };
        assert_eq!(env, "prod");
        assert_eq!(known, &["development", "production", "test"]);
        assert!(err.to_string().contains("development, production, test"), "{err}");
    }

    #[test]
    fn a_file_in_the_working_directory_adds_an_environment_or_replaces_a_compiled_in_one() {
        let dir = config_dir(&[
            ("staging.toml", "[server]\nbind = \"0.0.0.0:9000\"\n"),
            ("test.toml", "[actors]\narbiters = 7\n"),
        ]);
        let staging = Settings::load_in(&dir, "staging", vars(REAL_SECRETS)).expect("staging is known");
        assert_eq!(staging.server.bind, "0.0.0.0:9000");
        let test = Settings::load_in(&dir, "test", vars(&[])).expect("test loads");
        assert_eq!(test.actors.arbiters, 7);
        assert!(test.limits.enabled, "the local test.toml replaces the compiled-in one");
    }

    #[test]
    fn production_refuses_the_development_jwt_secret() {
        let err = Settings::load_from("production", vars(&[])).expect_err("must refuse");
        assert!(matches!(err, SettingsError::DefaultSecret(_)), "{err}");
    }

    #[test]
    fn staging_refuses_the_development_jwt_secret() {
        let dir = config_dir(&[("staging.toml", "")]);
        let err = Settings::load_in(&dir, "staging", vars(&[])).expect_err("must refuse");
        assert!(
            matches!(err, SettingsError::DefaultSecret(what) if what.contains("JWT")),
            "{err}"
        );
    }

    #[test]
    fn staging_refuses_the_development_push_key_even_with_a_real_jwt_secret() {
        let dir = config_dir(&[("staging.toml", "")]);
        let env = vars(&[("LIVECART__AUTH__JWT_SECRET", "a-staging-secret-of-some-length")]);
        let err = Settings::load_in(&dir, "staging", env).expect_err("must refuse");
        assert!(
            matches!(err, SettingsError::DefaultSecret(what) if what.contains("push key")),
            "{err}"
        );
    }

    #[test]
    fn staging_starts_with_secrets_from_the_environment() {
        let dir = config_dir(&[("staging.toml", "")]);
        let settings = Settings::load_in(&dir, "staging", vars(REAL_SECRETS)).expect("real secrets are accepted");
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

    #[test]
    fn a_relative_sqlite_path_is_placed_in_the_absolute_data_dir() {
        let settings = Settings::load_from("development", vars(&[("HOME", "/home/ann")])).expect("defaults load");
        let expected = PathBuf::from("/home/ann/.local/share/livecart");
        assert_eq!(
            settings.database.data_dir, expected,
            "the default is the user's data directory"
        );
        assert_eq!(
            settings.database.url,
            format!("sqlite://{}", expected.join("livecart.db").display())
        );

        let env = vars(&[
            ("LIVECART__DATABASE__DATA_DIR", "/var/lib/livecart"),
            ("LIVECART__DATABASE__URL", "sqlite://shop/live.db"),
        ]);
        let settings = Settings::load_from("development", env).expect("loads");
        assert_eq!(settings.database.url, "sqlite:///var/lib/livecart/shop/live.db");

        let xdg = vars(&[("HOME", "/home/ann"), ("XDG_DATA_HOME", "/data/ann")]);
        let settings = Settings::load_from("development", xdg).expect("loads");
        assert_eq!(settings.database.data_dir, PathBuf::from("/data/ann/livecart"));
        let homeless = Settings::load_from("development", vars(&[])).expect("loads");
        let expected = std::env::current_dir().expect("cwd").join("data");
        assert_eq!(homeless.database.data_dir, expected, "no home: ./data");
    }

    #[test]
    fn absolute_sqlite_paths_and_postgres_urls_are_kept_as_given() {
        for url in [
            "sqlite:///tmp/elsewhere.db",
            "postgres://postgres@127.0.0.1:5432/livecart",
        ] {
            let env = vars(&[("LIVECART__DATABASE__URL", url)]);
            let settings = Settings::load_from("development", env).expect("loads");
            assert_eq!(settings.database.url, url);
        }
    }

    #[test]
    fn masked_settings_show_no_secret_and_no_password() {
        let env = vars(&[
            ("LIVECART__AUTH__JWT_SECRET", "jwt-secret-for-the-masking-test"),
            ("LIVECART__STREAM__PUSH_KEY", "push-key-for-the-masking-test"),
            (
                "LIVECART__PAYMENTS__WEBHOOK_SECRET",
                "webhook-secret-for-the-masking-test",
            ),
            (
                "DATABASE_URL",
                "postgres://shop:db-password-xyz@db:5432/livecart?sslmode=require",
            ),
            ("REDIS_URL", "redis://:redis-password-xyz@cache:6379/0"),
        ]);
        let settings = Settings::load_from("production", env).expect("loads");
        let text = settings.masked_toml();
        for secret in [
            "jwt-secret-for",
            "push-key-for",
            "webhook-secret-for",
            "db-password-xyz",
            "redis-password-xyz",
        ] {
            assert!(!text.contains(secret), "{secret} shows in:\n{text}");
        }
        let masked = settings.masked();
        assert_eq!(
            masked.database.url,
            "postgres://shop:********@db:5432/livecart?sslmode=require"
        );
        assert_eq!(masked.redis.url, "redis://:********@cache:6379/0");
        assert_eq!(masked.auth.jwt_secret, "********");
        assert!(
            text.contains("bind = \"127.0.0.1:8080\""),
            "the rest shows as set:\n{text}"
        );
    }

    #[test]
    fn a_password_in_a_query_or_a_url_that_does_not_parse_is_masked_too() {
        assert_eq!(
            mask_url_password("postgres://db/livecart?user=shop&password=hunter2"),
            "postgres://db/livecart?user=shop&password=********"
        );
        assert_eq!(mask_url_password("host=db password=hunter2"), MASK);
        assert_eq!(mask_url_password(""), "");
        assert_eq!(
            mask_url_password("sqlite:///data/livecart.db"),
            "sqlite:///data/livecart.db"
        );
    }

    #[test]
    fn the_development_secrets_are_masked_and_named_as_such() {
        let masked = Settings::load_from("development", vars(&[])).expect("loads").masked();
        assert_eq!(masked.auth.jwt_secret, "******** (the development default)");
        assert_eq!(masked.stream.push_key, "******** (the development default)");
    }
}
