//! The command line as an operator runs it: the built binary, from another directory than the
//! repository's, with its settings in environment variables.

use crate::helpers::*;
use livecart::gateway::auth::TokenKeys;
use livecart::settings::Settings;
use livecart_actors::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// A fresh, empty directory to run the binary in, so nothing of the repository's `config/` helps;
/// removed with whatever the binary wrote there when the value is dropped, pass or fail.
fn elsewhere() -> Elsewhere {
    let dir = std::env::temp_dir().join(format!("livecart-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    Elsewhere(dir)
}

struct Elsewhere(PathBuf);

impl std::ops::Deref for Elsewhere {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Elsewhere {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Elsewhere {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `livecart ARGS` in `dir` with exactly the given `LIVECART…` settings (none inherited).
fn livecart(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_livecart"));
    command.args(args).current_dir(dir).env("RUST_LOG", "warn");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("LIVECART") || key == "DATABASE_URL" || key == "REDIS_URL" {
            command.env_remove(key);
        }
    }
    command.envs(env.iter().copied());
    command.output().expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

const PRODUCTION: &[(&str, &str)] = &[
    ("LIVECART_ENV", "production"),
    ("LIVECART__AUTH__JWT_SECRET", "jwt-secret-of-the-cli-test-0123"),
    ("LIVECART__STREAM__PUSH_KEY", "push-key-of-the-cli-test"),
    ("LIVECART__PAYMENTS__WEBHOOK_SECRET", "webhook-secret-of-the-cli-test"),
    (
        "DATABASE_URL",
        "postgres://shop:db-password-of-the-cli-test@db:5432/livecart",
    ),
    ("REDIS_URL", "redis://:redis-password-of-the-cli-test@cache:6379"),
];

#[test]
fn check_config_prints_the_effective_settings_with_every_secret_masked() {
    let output = livecart(&elsewhere(), &["check-config"], PRODUCTION);
    let (out, err) = (stdout(&output), stderr(&output));
    assert!(output.status.success(), "stderr: {err}");
    for (_, value) in PRODUCTION.iter().skip(1) {
        let secret = value
            .split([':', '@'])
            .find(|p| p.contains("of-the-cli-test"))
            .unwrap_or(value);
        assert!(
            !out.contains(secret) && !err.contains(secret),
            "{secret} was printed:\n{out}"
        );
    }
    assert!(out.contains("LIVECART_ENV=production"), "{out}");
    assert!(
        out.contains("url = \"postgres://shop:********@db:5432/livecart\""),
        "{out}"
    );
    assert!(out.contains("url = \"redis://:********@cache:6379\""), "{out}");
    assert!(out.contains("jwt_secret = \"********\""), "{out}");
    assert!(
        out.contains("pool_size = 16"),
        "production's own file applies from anywhere:\n{out}"
    );
}

#[test]
fn check_config_exits_non_zero_with_the_reason_on_a_refused_setting() {
    let dir = elsewhere();
    let development_secret = livecart(&dir, &["check-config"], &[("LIVECART_ENV", "production")]);
    assert!(!development_secret.status.success());
    assert!(
        stderr(&development_secret).contains("development JWT secret"),
        "{}",
        stderr(&development_secret)
    );

    let short_secret = [("LIVECART__AUTH__JWT_SECRET", "short")];
    let output = livecart(&dir, &["check-config"], &short_secret);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("at least 16 bytes"), "{}", stderr(&output));

    let output = livecart(&dir, &["check-config", "--bind", "not an address"], &[]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("server.bind"), "{}", stderr(&output));
    assert!(stdout(&output).is_empty(), "nothing is printed as if it were fine");
}

#[test]
fn an_environment_without_a_config_file_is_refused_with_the_known_ones() {
    for command in [&["check-config"][..], &["serve"], &["migrate"]] {
        let output = livecart(&elsewhere(), command, &[("LIVECART_ENV", "prod")]);
        assert!(!output.status.success(), "{command:?} accepted LIVECART_ENV=prod");
        let err = stderr(&output);
        assert!(err.contains("LIVECART_ENV=prod"), "{err}");
        assert!(err.contains("development, production, test"), "{err}");
    }
}

#[test]
fn a_config_file_in_the_working_directory_adds_an_environment() {
    let dir = elsewhere();
    std::fs::create_dir_all(dir.join("config")).expect("config dir");
    std::fs::write(dir.join("config/staging.toml"), "[server]\nbind = \"0.0.0.0:9090\"\n").expect("file");
    let mut env = PRODUCTION.to_vec();
    env[0] = ("LIVECART_ENV", "staging");
    let output = livecart(&dir, &["check-config"], &env);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("bind = \"0.0.0.0:9090\""),
        "{}",
        stdout(&output)
    );
}

#[test]
fn every_command_has_help() {
    let dir = elsewhere();
    for command in [&[][..], &["serve"], &["migrate"], &["check-config"], &["token"]] {
        let args: Vec<&str> = command.iter().copied().chain(["--help"]).collect();
        let output = livecart(&dir, &args, &[]);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        let usage = format!("Usage: livecart {}", command.first().copied().unwrap_or_default());
        assert!(
            stdout(&output).contains(usage.trim_end()),
            "{args:?}:\n{}",
            stdout(&output)
        );
    }
    let output = livecart(&dir, &["token", "--user", "not-a-uuid", "--role", "merchant"], &[]);
    assert!(!output.status.success(), "a bad user id is refused");
    let output = livecart(
        &dir,
        &["token", "--user", &uuid::Uuid::new_v4().to_string(), "--role", "admin"],
        &[],
    );
    assert!(!output.status.success(), "an unknown role is refused");
}

/// `livecart token …` with the test settings; the printed token.
fn token(user: uuid::Uuid, role: &str, extra: &[&str], env: &[(&str, &str)]) -> String {
    let user = user.to_string();
    let mut args = vec!["token", "--user", &user, "--role", role];
    args.extend_from_slice(extra);
    let mut settings = vec![("LIVECART_ENV", "test")];
    settings.extend_from_slice(env);
    let output = livecart(&elsewhere(), &args, &settings);
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    assert_eq!(out.lines().count(), 1, "only the token is printed: {out}");
    out.trim().to_owned()
}

#[actix_web::test]
async fn a_printed_token_is_accepted_by_a_server_with_the_same_secret() {
    let user = uuid::Uuid::new_v4();
    let merchant = token(user, "merchant", &["--ttl-s", "120"], &[]);
    let settings = Settings::load_for("test").expect("test settings");
    let keys = TokenKeys::new(&settings.auth.jwt_secret, settings.auth.token_ttl_s).expect("keys");
    let caller = keys.verify(&merchant).expect("signed with the configured secret");
    assert_eq!((caller.user_id, caller.role), (user, Role::Merchant));
    let claims = jsonwebtoken::decode::<Value>(
        &merchant,
        &jsonwebtoken::DecodingKey::from_secret(settings.auth.jwt_secret.as_bytes()).expect("key"),
        &jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256),
    )
    .expect("decodes")
    .claims;
    assert_eq!(
        claims["exp"].as_i64().zip(claims["iat"].as_i64()).map(|(e, i)| e - i),
        Some(120)
    );

    let app = spawn_app(Backend::Sqlite).await;
    let res = app
        .post("/v1/rooms", Some(&merchant), json!({"title": "From the CLI"}))
        .await;
    let room = expect_status(res, StatusCode::CREATED).await;
    assert_eq!(room["merchant_id"], json!(user));
    let viewer = token(uuid::Uuid::new_v4(), "viewer", &[], &[]);
    expect_error(
        app.post("/v1/rooms", Some(&viewer), json!({"title": "x"})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let foreign = token(
        user,
        "merchant",
        &[],
        &[("LIVECART__AUTH__JWT_SECRET", "another-secret-entirely-0123")],
    );
    expect_error(
        app.post("/v1/rooms", Some(&foreign), json!({"title": "x"})).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

#[test]
fn the_embedded_database_lives_in_the_data_dir_and_its_absolute_path_is_logged() {
    let dir = elsewhere();
    let mut command = Command::new(env!("CARGO_BIN_EXE_livecart"));
    command
        .current_dir(&dir)
        .env_remove("LIVECART__DATABASE__URL")
        .env("LIVECART_ENV", "test")
        .env("LIVECART__DATABASE__DATA_DIR", "state")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("the server starts");
    let lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    let expected = dir.join("state").join("livecart.db");
    let mut log = String::new();
    let started = loop {
        match receiver.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => {
                log.push_str(&line);
                log.push('\n');
                if line.contains("livecart listening") {
                    break true;
                }
            }
            Err(_) => break false,
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(started, "the server did not start:\n{log}");
    assert!(log.contains(&format!("database.path={}", expected.display())), "{log}");
    assert!(expected.is_file(), "{} was not created", expected.display());
}

/// `livecart migrate` on a SQLite database in `dir`, with `NO_COLOR` unset, its log at info.
fn migrate_logging(dir: &Path, env: &[(&str, &str)]) -> Output {
    let state = dir.join("state");
    let state = state.to_string_lossy();
    let mut all = vec![
        ("LIVECART_ENV", "test"),
        ("LIVECART__DATABASE__DATA_DIR", state.as_ref()),
        ("RUST_LOG", "info"),
    ];
    all.extend_from_slice(env);
    let mut command = Command::new(env!("CARGO_BIN_EXE_livecart"));
    command.arg("migrate").current_dir(dir).env_remove("NO_COLOR");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("LIVECART") || key == "DATABASE_URL" {
            command.env_remove(key);
        }
    }
    command.envs(all.iter().copied());
    command.output().expect("the binary runs")
}

#[test]
fn the_log_is_plain_text_off_a_terminal_and_json_lines_when_asked() {
    let dir = elsewhere();
    let plain = migrate_logging(&dir, &[]);
    assert!(plain.status.success(), "{}", stderr(&plain));
    let text = stderr(&plain);
    assert!(text.contains("migrations done"), "{text}");
    assert!(!text.contains('\u{1b}'), "no colour codes into a pipe: {text:?}");

    let json = migrate_logging(&dir, &[("LIVECART__LOG__FORMAT", "json")]);
    assert!(json.status.success(), "{}", stderr(&json));
    let lines: Vec<Value> = stderr(&json)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}")))
        .collect();
    let done = lines
        .iter()
        .find(|line| line["fields"]["message"] == "migrations done")
        .unwrap_or_else(|| panic!("no `migrations done` event in {lines:?}"));
    assert_eq!(done["level"], "INFO");
    assert!(
        done["timestamp"].is_string() && done["fields"]["migrations.applied"].is_number(),
        "{done}"
    );
}

#[test]
fn production_logs_json_lines() {
    let vars = PRODUCTION.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let settings = Settings::load_from("production", vars).expect("production settings load");
    assert_eq!(settings.log.format, livecart::settings::LogFormat::Json);
    let development = Settings::load_from("development", Default::default()).expect("defaults load");
    assert_eq!(development.log.format, livecart::settings::LogFormat::Text);
}

#[test]
fn a_missing_postgres_database_is_created_at_start() {
    let database = unmade_postgres_database();
    let dir = elsewhere();
    let migrated = livecart(
        &dir,
        &["migrate"],
        &[("LIVECART_ENV", "test"), ("LIVECART__DATABASE__URL", &database.url)],
    );
    assert!(migrated.status.success(), "{}", stderr(&migrated));
    // It exists and is migrated: a second run finds nothing to create and nothing to apply.
    let again = livecart(
        &dir,
        &["migrate"],
        &[
            ("LIVECART_ENV", "test"),
            ("LIVECART__DATABASE__URL", &database.url),
            ("RUST_LOG", "info"),
        ],
    );
    assert!(again.status.success(), "{}", stderr(&again));
    let log = stderr(&again);
    assert!(log.contains("migrations.applied=0"), "{log}");
    assert!(!log.contains("created the PostgreSQL database"), "{log}");
}

#[test]
fn a_missing_postgres_database_that_cannot_be_created_says_what_to_run() {
    let role = format!("livecart_cannot_create_{}", uuid::Uuid::new_v4().simple());
    on_postgres_server(&format!("CREATE ROLE {role} LOGIN NOCREATEDB")).expect("a role without CREATEDB");
    let database = unmade_postgres_database();
    let name = database.url.rsplit('/').next().expect("a database name").to_owned();
    let server = postgres_server_url();
    let (scheme, rest) = server.split_once("://").expect("a URL");
    let host = rest.rsplit('@').next().expect("a host");
    let url = format!("{scheme}://{role}@{host}/{name}");
    let refused = livecart(
        &elsewhere(),
        &["migrate"],
        &[("LIVECART_ENV", "test"), ("LIVECART__DATABASE__URL", &url)],
    );
    let _ = on_postgres_server(&format!("DROP ROLE IF EXISTS {role}"));
    assert!(!refused.status.success(), "migrate succeeded without a database");
    let message = stderr(&refused);
    assert!(
        message.contains(&format!("database \"{name}\" does not exist")),
        "{message}"
    );
    assert!(
        message.contains("createdb -h") && message.contains(&format!("-U {role} {name}")),
        "{message}"
    );
}
