//! livecart-load: the load tool for livecart and the designs it replaces.
//!
//! `livecart-load [OPTIONS]` (or `cargo bench --bench load -- [OPTIONS]`) starts or reaches the
//! servers, runs the scenarios (flash sale, fan-out, idle viewers), prints a table, writes a JSON
//! report and SVG plots, and exits non-zero when a correctness gate fails. See
//! docs/BENCHMARKS.md for what each figure means.

pub mod cli;
pub mod database;
pub mod gate;
pub mod http_load;
pub mod metrics;
pub mod peers;
mod plot;
pub mod process;
pub mod recorder;
pub mod report;
mod run;
pub mod scenario;
pub mod schedule;
pub mod setup;
pub mod target;
pub mod ws_load;

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit codes: all gates passed; a gate failed; the run could not be carried out.
pub const PASSED: u8 = 0;
pub const GATE_FAILED: u8 = 1;
pub const NOT_RUN: u8 = 2;

/// The whole command, for `main`: see `run_with`.
pub fn main_with(args: impl IntoIterator<Item = String>, livecart_bin: Option<PathBuf>) -> ExitCode {
    ExitCode::from(run_with(args, livecart_bin))
}

/// The whole command: `args` as on a command line (the program name first). `livecart_bin` is
/// the livecart binary a caller knows of (the bench's own build), used unless --livecart-bin.
/// Blocks on a runtime of its own, so call it from outside any async runtime.
pub fn run_with(args: impl IntoIterator<Item = String>, livecart_bin: Option<PathBuf>) -> u8 {
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { NOT_RUN } else { PASSED };
        }
    };
    if let Some(cli::Command::Peer(peer)) = cli.command {
        return match peers::serve(peer) {
            Ok(()) => PASSED,
            Err(e) => {
                eprintln!("livecart-load peer: {e:#}");
                NOT_RUN
            }
        };
    }
    raise_open_files(&cli.run);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.run.client_threads.max(1))
        .enable_all()
        .build();
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("livecart-load: no runtime: {e}");
            return NOT_RUN;
        }
    };
    match runtime.block_on(run::run(cli.run, livecart_bin)) {
        Ok(run::Verdict::Passed) => PASSED,
        Ok(run::Verdict::GateFailed) => GATE_FAILED,
        Err(e) => {
            eprintln!("livecart-load: {e:#}");
            NOT_RUN
        }
    }
}

/// A thousand connections (and thousands of viewers) need more open files than the usual soft
/// limit of 1,024: raise it to the hard limit, and say so when even that is short.
fn raise_open_files(args: &cli::RunArgs) {
    let max_connections = args.connections.iter().copied().max().unwrap_or(0);
    let needed = (max_connections.max(args.idle_viewers).max(args.viewers) + 256) as u64;
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < needed => eprintln!(
            "note: the open-file limit is {limit}, this run needs about {needed} (raise `ulimit -n`); the servers the tool starts inherit it"
        ),
        Ok(_) => {}
        Err(e) => eprintln!("note: could not raise the open-file limit: {e}"),
    }
}
