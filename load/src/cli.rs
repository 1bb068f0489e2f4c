//! The command line: `livecart-load [OPTIONS]` runs the scenarios; `livecart-load peer …` serves
//! one peer design (the tool starts those itself). `cargo bench --bench load -- [OPTIONS]` is
//! the same command.

use crate::peers::PeerArgs;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "livecart-load",
    version,
    about = "Load tool for livecart: flash sale (HTTP and WebSocket, closed and open loop), fan-out and idle viewers, \
             against livecart and the designs it replaces, with correctness gates",
    args_conflicts_with_subcommands = true,
    after_help = "Without --url the tool starts the release `livecart` binary itself (SQLite, and PostgreSQL with \
                  --postgres) and the peer designs (echo; Redis-Lua and PostgreSQL row lock with --postgres and \
                  --redis), each as its own process on 127.0.0.1. It exits non-zero when a correctness gate fails. \
                  See docs/BENCHMARKS.md."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve one peer design (started by the tool itself; see `peer --help`).
    Peer(PeerArgs),
}

/// A scenario of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
pub enum Scenario {
    /// Orders on one hot listing over HTTP and WebSocket, closed then open loop, per connection count.
    Flash,
    /// Viewers in a room while chat, likes and stock flow; delivery latency from send to receipt.
    Fanout,
    /// Held idle viewers; the server's memory per viewer when its pid is known.
    Idle,
}

#[derive(Debug, Clone, Args, serde::Serialize)]
pub struct RunArgs {
    /// A running livecart to load (e.g. http://127.0.0.1:8080); without it the tool starts its own.
    /// Its rate limits must be off (LIVECART__LIMITS__ENABLED=false) for anything but tiny loads.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// A merchant's token on --url to set the sale up with (else a merchant is registered).
    #[arg(long, value_name = "JWT")]
    #[serde(skip)]
    pub merchant_token: Option<String>,
    /// The pid of the --url server when it runs on this machine: its memory and CPU time are read
    /// from /proc (idle memory per viewer, fan-out frames per CPU-second).
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,
    /// The livecart binary to start [default: `livecart` beside this executable].
    #[arg(long, value_name = "PATH")]
    pub livecart_bin: Option<PathBuf>,
    /// PostgreSQL as a role that may create databases: livecart is also run on a fresh database
    /// there, and the PostgreSQL peers get theirs.
    #[arg(long, env = "LIVECART_BENCH_POSTGRES", value_name = "URL")]
    #[serde(skip)]
    pub postgres: Option<String>,
    /// Redis, for the Redis-Lua peer.
    #[arg(long, env = "LIVECART_BENCH_REDIS", value_name = "URL")]
    #[serde(skip)]
    pub redis: Option<String>,
    /// Skip the peer designs (livecart only).
    #[arg(long)]
    pub no_peers: bool,
    /// Scenarios to run.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "flash,fanout,idle")]
    pub scenarios: Vec<Scenario>,
    /// Connection counts of the flash sale, each a closed- and an open-loop pass per transport.
    #[arg(long, value_delimiter = ',', default_value = "64,1000")]
    pub connections: Vec<usize>,
    /// Seconds measured per pass.
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Seconds of warm-up before each measured pass.
    #[arg(long, default_value_t = 1.0)]
    pub warm_up: f64,
    /// Open-loop passes run at this fraction of the same target's closed-loop peak.
    #[arg(long, default_value_t = 0.5)]
    pub open_fraction: f64,
    /// Guest buyers the orders are spread over (at least the largest connection count).
    #[arg(long, default_value_t = 1000)]
    pub buyers: usize,
    /// Units of the small listing the sell-out pass empties (0 skips it).
    #[arg(long, default_value_t = 500)]
    pub sellout_stock: u64,
    /// Viewers in the fan-out room.
    #[arg(long, default_value_t = 1000)]
    pub viewers: usize,
    /// Chat messages per second the fan-out sender posts (each goes to every viewer).
    #[arg(long, default_value_t = 100.0)]
    pub chat_rate: f64,
    /// Idle viewers held open.
    #[arg(long, default_value_t = 2000)]
    pub idle_viewers: usize,
    /// Threads of the client's one tokio runtime.
    #[arg(long, default_value_t = 2)]
    pub client_threads: usize,
    /// Where the JSON report, the SVG plots and the servers' logs go.
    #[arg(long, default_value = "target/load-report", value_name = "DIR")]
    pub out: PathBuf,
    /// No progress bars (they also hide when stderr is not a terminal).
    #[arg(long)]
    pub quiet: bool,
}
