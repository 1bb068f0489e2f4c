//! The livecart binary: `livecart` serves, `livecart migrate` only migrates.

use clap::{Parser, Subcommand};
use livecart::settings::Settings;
use livecart::startup::Application;

#[derive(Parser)]
#[command(version, about = "livecart: a live-commerce server")]
struct Cli {
    /// Listen address, overriding `server.bind` (default 127.0.0.1:8080).
    #[arg(long, global = true)]
    bind: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending database migrations and exit.
    Migrate,
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    livecart::telemetry::init();
    let cli = Cli::parse();
    let mut settings = Settings::load()?;
    if let Some(bind) = cli.bind {
        settings.server.bind = bind;
    }
    match cli.command {
        Some(Command::Migrate) => livecart::infrastructure::db::migrate::migrate_url(&settings.database.url).await,
        None => Application::build(settings)
            .await?
            .run_until_stopped()
            .await
            .map_err(Into::into),
    }
}
