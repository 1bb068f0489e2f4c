//! The command line: `serve` (the default), `migrate`, `check-config` and `token`. Each reads
//! the same settings (`config/` files and `LIVECART__SECTION__KEY` variables, see `settings.rs`).

use clap::{Args, Parser, Subcommand, ValueEnum};
use livecart::gateway::auth::TokenKeys;
use livecart::settings::Settings;
use livecart::startup::Application;
use livecart_actors::Role;
use std::net::ToSocketAddrs;
use uuid::Uuid;

#[derive(Parser)]
#[command(
    version,
    about = "livecart: a live-commerce server",
    after_help = "Settings: config/default.toml → config/$LIVECART_ENV.toml (LIVECART_ENV defaults to development) \
                  → LIVECART__SECTION__KEY variables. `livecart check-config` shows the result."
)]
pub struct Cli {
    /// Listen address, overriding `server.bind` (default 127.0.0.1:8080).
    #[arg(long, global = true, value_name = "ADDR")]
    bind: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate the database, then serve HTTP and WebSocket on `server.bind` (the default command).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the effective settings with secrets masked; exit non-zero with the reason when the
    /// server would refuse them.
    CheckConfig,
    /// Print a JWT for a user, signed with the configured secret (for operators and load testers).
    ///
    /// The user need not exist for HTTP calls; the room WebSocket also requires a registered user.
    Token(TokenArgs),
}

#[derive(Args)]
struct TokenArgs {
    /// The user the token speaks for (its `sub` claim).
    #[arg(long, value_name = "UUID")]
    user: Uuid,
    /// The user's role.
    #[arg(long, value_enum)]
    role: RoleArg,
    /// Lifetime in seconds [default: `auth.token_ttl_s`, 86400].
    #[arg(long = "ttl-s", value_name = "N", value_parser = clap::value_parser!(i64).range(1..))]
    ttl_s: Option<i64>,
}

#[derive(Clone, Copy, ValueEnum)]
enum RoleArg {
    Merchant,
    Viewer,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Role {
        match role {
            RoleArg::Merchant => Role::Merchant,
            RoleArg::Viewer => Role::Viewer,
        }
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut settings = Settings::load()?;
    // After the settings, which choose the log's format; a refused setting is reported by
    // `main` on stderr without a logger.
    livecart::telemetry::init(settings.log.format);
    if let Some(bind) = cli.bind {
        settings.server.bind = bind;
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => Application::build(settings).await?.run_until_stopped().await?,
        Command::Migrate => livecart::infrastructure::db::migrate::migrate_url(&settings.database.url).await?,
        Command::CheckConfig => check_config(&settings)?,
        Command::Token(args) => {
            let ttl_s = args.ttl_s.unwrap_or(settings.auth.token_ttl_s);
            let keys = TokenKeys::new(&settings.auth.jwt_secret, ttl_s)?;
            println!("{}", keys.issue(args.user, args.role.into())?);
        }
    }
    Ok(())
}

/// Loading already refused what `Settings::load` refuses (an unknown environment, the
/// development secrets outside development and test); this adds what `serve` would refuse later.
fn check_config(settings: &Settings) -> anyhow::Result<()> {
    TokenKeys::new(&settings.auth.jwt_secret, settings.auth.token_ttl_s)?;
    let bind = &settings.server.bind;
    bind.to_socket_addrs()
        .map_err(|e| anyhow::anyhow!("server.bind {bind:?} is not an address to listen on: {e}"))?;
    println!("# livecart settings for LIVECART_ENV={} (secrets masked)", settings.env);
    print!("{}", settings.masked_toml());
    Ok(())
}
