//! A run: the targets one at a time (so each has the machine to itself), the scenarios on each,
//! then the report. Each target's server is stopped before the next starts.

use crate::cli::{RunArgs, Scenario};
use crate::database::Database;
use crate::peers::Design;
use crate::report::{all_gates, Report, TargetReport};
use crate::scenario::{fanout, flash, idle, Timing};
use crate::target::Target;
use anyhow::Context;
use std::path::PathBuf;
use std::time::Duration;

/// What a run ended with, for the exit code.
pub enum Verdict {
    Passed,
    GateFailed,
}

pub async fn run(args: RunArgs, livecart_bin: Option<PathBuf>) -> anyhow::Result<Verdict> {
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let max_connections = args.connections.iter().copied().max().unwrap_or(64);
    let buyers = args.buyers.max(max_connections).max(1);
    let timing = Timing {
        warm_up: Duration::from_secs_f64(args.warm_up.max(0.0)),
        measure: Duration::from_secs_f64(args.seconds.max(0.1)),
        quiet: args.quiet,
    };
    let plan = flash::Plan {
        connections: args.connections.clone(),
        open_fraction: args.open_fraction,
        sellout_stock: args.sellout_stock,
        timing,
    };

    let mut targets: Vec<TargetReport> = Vec::new();
    let mut fanout_outcome = None;
    let mut idle_outcome = None;
    for spec in specs(&args) {
        eprintln!("target: {}", spec.describe());
        let mut target = spec.start(&args, livecart_bin.as_deref()).await?;
        let result = async {
            let hot = target.prepare_hot(buyers).await?;
            // Fan-out and idle viewers once, on the first livecart. Idle viewers first, on the
            // server as set up: after a sale and a fan-out pass its allocator holds freed
            // memory the idle connections would reuse, and their growth would read as nothing.
            let first_livecart = target.is_livecart() && fanout_outcome.is_none() && idle_outcome.is_none();
            if first_livecart && args.scenarios.contains(&Scenario::Idle) {
                idle_outcome = Some(idle::run(&target, &hot, args.idle_viewers).await?);
            }
            let flash = if args.scenarios.contains(&Scenario::Flash) {
                flash::run(&mut target, &hot, &plan).await?
            } else {
                flash::Outcome::default()
            };
            if first_livecart && args.scenarios.contains(&Scenario::Fanout) {
                fanout_outcome = Some(fanout::run(&target, &hot, args.viewers, args.chat_rate, timing).await?);
            }
            anyhow::Ok(flash)
        }
        .await;
        let name = target.name.clone();
        let kind = target.kind.clone();
        target.close();
        let flash = result.with_context(|| format!("on {name}"))?;
        targets.push(TargetReport { name, kind, flash });
    }

    let gates_passed = all_gates(&targets).all(|g| g.passed);
    let mut report = Report {
        date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        commit: commit(),
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        options: args.clone(),
        targets,
        fanout: fanout_outcome,
        idle: idle_outcome,
        ratios: Vec::new(),
        gates_passed,
    };
    report.compute_ratios(&args.connections);
    report.print();
    let json = args.out.join("report.json");
    std::fs::write(&json, serde_json::to_vec_pretty(&report)?)
        .with_context(|| format!("writing {}", json.display()))?;
    let plots = crate::plot::write(&report, &args.out)?;
    println!("report: {}", json.display());
    for p in plots {
        println!("plot: {}", p.display());
    }
    Ok(if gates_passed {
        Verdict::Passed
    } else {
        Verdict::GateFailed
    })
}

/// A target to start.
enum Spec {
    Remote,
    Livecart { postgres: Option<String> },
    Peer(Design),
}

impl Spec {
    fn describe(&self) -> String {
        match self {
            Spec::Remote => "livecart (--url)".into(),
            Spec::Livecart { postgres: None } => "livecart on SQLite".into(),
            Spec::Livecart { postgres: Some(_) } => "livecart on PostgreSQL".into(),
            Spec::Peer(d) => d.label().into(),
        }
    }

    async fn start(&self, args: &RunArgs, bin: Option<&std::path::Path>) -> anyhow::Result<Target> {
        match self {
            Spec::Remote => {
                let url = args.url.as_deref().context("--url")?;
                Ok(Target::remote(url, args.merchant_token.clone(), args.server_pid))
            }
            Spec::Livecart { postgres } => {
                let bin = args
                    .livecart_bin
                    .clone()
                    .or_else(|| bin.map(PathBuf::from))
                    .or_else(crate::process::default_livecart_bin)
                    .context("no livecart binary: build it (cargo build --release) or pass --livecart-bin")?;
                let database = match postgres {
                    Some(admin) => Database::postgres(admin)?,
                    None => Database::sqlite()?,
                };
                Target::livecart(&bin, database, &args.out).await
            }
            Spec::Peer(design) => {
                // The peers are this executable (the tool's binary, or the bench's) run as `peer`.
                let exe = std::env::current_exe().context("finding this executable")?;
                Target::peer(
                    &exe,
                    *design,
                    args.postgres.as_deref(),
                    args.redis.as_deref(),
                    &args.out,
                )
                .await
            }
        }
    }
}

/// The echo first (the baseline every ratio needs), then livecart, then the other designs.
fn specs(args: &RunArgs) -> Vec<Spec> {
    let mut specs = Vec::new();
    let peers = !args.no_peers && args.scenarios.contains(&Scenario::Flash);
    if peers {
        specs.push(Spec::Peer(Design::Echo));
    }
    match &args.url {
        Some(_) => specs.push(Spec::Remote),
        None => {
            specs.push(Spec::Livecart { postgres: None });
            if let Some(pg) = &args.postgres {
                specs.push(Spec::Livecart {
                    postgres: Some(pg.clone()),
                });
            }
        }
    }
    if peers {
        match (&args.postgres, &args.redis) {
            (Some(_), Some(_)) => specs.push(Spec::Peer(Design::RedisLua)),
            _ => eprintln!("note: the Redis-Lua peer needs --postgres and --redis; skipped"),
        }
        match &args.postgres {
            Some(_) => specs.push(Spec::Peer(Design::PgRowLock)),
            None => eprintln!("note: the PostgreSQL row-lock peer needs --postgres; skipped"),
        }
    }
    specs
}

/// The commit the run measured, when run inside a git work tree.
fn commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()?;
    let hash = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    let dirty = std::process::Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .is_some_and(|o| !o.stdout.is_empty());
    (!hash.is_empty()).then(|| if dirty { format!("{hash}-dirty") } else { hash })
}
