//! The livecart binary: `livecart [serve]`, `migrate`, `check-config`, `token` (see `cli.rs`).

mod cli;

use clap::Parser;
use std::process::ExitCode;

#[actix_web::main]
async fn main() -> ExitCode {
    match cli::run(cli::Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The whole chain of causes on one line, on stderr: an operator reads the reason.
            eprintln!("livecart: {e:#}");
            ExitCode::FAILURE
        }
    }
}
