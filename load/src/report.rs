//! What a run found: the table on stdout, the JSON report, and the ratios the targets are stated
//! in (every figure against the baselines measured in the same run, with the same client).

use crate::cli::RunArgs;
use crate::gate::Gate;
use crate::scenario::{fanout, flash, idle, PassReport};
use crate::target::Kind;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Report {
    pub date: String,
    pub commit: Option<String>,
    pub cores: usize,
    pub options: RunArgs,
    pub targets: Vec<TargetReport>,
    pub fanout: Option<fanout::Outcome>,
    pub idle: Option<idle::Outcome>,
    pub ratios: Vec<Ratio>,
    /// Every gate of every target passed.
    pub gates_passed: bool,
}

#[derive(Debug, Serialize)]
pub struct TargetReport {
    pub name: String,
    #[serde(flatten)]
    pub kind: Kind,
    #[serde(flatten)]
    pub flash: flash::Outcome,
}

/// One figure as a ratio to another of the same run.
#[derive(Debug, Serialize)]
pub struct Ratio {
    pub what: String,
    pub value: f64,
}

impl Report {
    pub fn passes(&self) -> impl Iterator<Item = &PassReport> {
        self.targets.iter().flat_map(|t| t.flash.passes.iter())
    }

    fn closed_http(&self, pred: impl Fn(&Kind) -> bool, connections: usize) -> Option<(&str, f64)> {
        self.targets.iter().filter(|t| pred(&t.kind)).find_map(|t| {
            t.flash
                .passes
                .iter()
                .find(|p| p.transport == "http" && p.pacing == "closed" && p.connections == connections)
                .map(|p| (t.name.as_str(), p.figures.per_s))
        })
    }

    /// livecart's closed-loop peaks against each peer's, and WebSocket against HTTP, per
    /// connection count.
    pub fn compute_ratios(&mut self, connections: &[usize]) {
        let mut ratios = Vec::new();
        for &c in connections {
            let livecarts: Vec<(String, f64, Option<f64>)> = self
                .targets
                .iter()
                .filter(|t| matches!(t.kind, Kind::Livecart { .. }))
                .filter_map(|t| {
                    let find = |tr: &str| {
                        t.flash
                            .passes
                            .iter()
                            .find(|p| p.transport == tr && p.pacing == "closed" && p.connections == c)
                            .map(|p| p.figures.per_s)
                    };
                    Some((t.name.clone(), find("http")?, find("ws")))
                })
                .collect();
            for (name, http, ws) in livecarts {
                for design in [
                    crate::peers::Design::Echo,
                    crate::peers::Design::RedisLua,
                    crate::peers::Design::PgRowLock,
                ] {
                    if let Some((peer, per_s)) = self.closed_http(|k| *k == Kind::Peer { design }, c) {
                        ratios.push(Ratio {
                            what: format!("{name} HTTP ÷ {peer}, {c} connections, closed loop"),
                            value: http / per_s.max(f64::MIN_POSITIVE),
                        });
                    }
                }
                if let Some(ws) = ws {
                    ratios.push(Ratio {
                        what: format!("{name} WebSocket ÷ HTTP, {c} connections, closed loop"),
                        value: ws / http.max(f64::MIN_POSITIVE),
                    });
                }
            }
        }
        self.ratios = ratios;
    }

    /// The table, the gates, fan-out, idle memory and the ratios, for a terminal.
    pub fn print(&self) {
        println!();
        println!(
            "{:<28} {:<4} {:>5} {:<6} {:>9} {:>9} {:>6} {:>7} {:>7} {:>7} {:>7} {:>7} {:>6} {:>6} {:>6}  errors",
            "target",
            "via",
            "conns",
            "pacing",
            "offered/s",
            "acked/s",
            "×echo",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "p99.9",
            "max ms",
            "/commit",
            "actr ms",
            "cores"
        );
        for p in self.passes() {
            let f = &p.figures;
            let echo = self
                .closed_http(
                    |k| {
                        *k == Kind::Peer {
                            design: crate::peers::Design::Echo,
                        }
                    },
                    p.connections,
                )
                .map_or("-".to_owned(), |(_, e)| {
                    format!("{:.2}", f.per_s / e.max(f64::MIN_POSITIVE))
                });
            let (per_commit, actor_ms) = p.server.map_or(("-".to_owned(), "-".to_owned()), |s| {
                (format!("{:.1}", s.per_commit()), format!("{:.2}", s.actor_ms()))
            });
            let errors = if f.errors.is_empty() {
                "0".to_owned()
            } else {
                f.errors
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            println!(
                "{:<28} {:<4} {:>5} {:<6} {:>9} {:>9} {:>6} {:>7.2} {:>7.2} {:>7.2} {:>7.2} {:>7.2} {:>6} {:>6} {:>6}  {errors}",
                p.target,
                p.transport,
                p.connections,
                p.pacing,
                f.offered_per_s.map_or("-".to_owned(), thousands),
                thousands(f.per_s),
                echo,
                f.p50_ms,
                f.p90_ms,
                f.p99_ms,
                f.p999_ms,
                f.max_ms,
                per_commit,
                actor_ms,
                p.server_cores.map_or("-".to_owned(), |c| format!("{c:.2}")),
            );
        }
        println!();
        for t in &self.targets {
            for g in &t.flash.gates {
                println!(
                    "{} {:<28} {:<40} {}",
                    if g.passed { "PASS" } else { "FAIL" },
                    t.name,
                    g.name,
                    g.detail
                );
            }
        }
        if let Some(f) = &self.fanout {
            println!();
            println!(
                "fan-out, {}: {} viewers × {:.0} chat/s: {} offered, {} delivered frames/s; p50 {:.1} ms, p99 {:.1} ms, p99.9 {:.1} ms, max {:.1} ms; dropped {}, closed {}; server {} cores, {} frames per server core-second",
                f.target,
                f.viewers,
                f.chat_per_s,
                thousands(f.offered_frames_per_s),
                thousands(f.delivered_frames_per_s),
                f.latency.p50_ms,
                f.latency.p99_ms,
                f.latency.p999_ms,
                f.latency.max_ms,
                f.dropped,
                f.closed,
                f.server_cores.map_or("?".to_owned(), |c| format!("{c:.2}")),
                f.frames_per_server_core_s.map_or("?".to_owned(), thousands),
            );
        }
        if let Some(i) = &self.idle {
            println!(
                "idle viewers, {}: {} of {} connected; server RSS {} → {} KiB: {} KiB per idle viewer; {} closed",
                i.target,
                i.connected,
                i.viewers,
                i.rss_before_kib.map_or("?".to_owned(), |k| k.to_string()),
                i.rss_after_kib.map_or("?".to_owned(), |k| k.to_string()),
                i.kib_per_viewer.map_or("?".to_owned(), |k| format!("{k:.1}")),
                i.closed,
            );
        }
        if !self.ratios.is_empty() {
            println!();
            for r in &self.ratios {
                println!("{:>8.2}×  {}", r.value, r.what);
            }
        }
        println!();
        println!("gates: {}", if self.gates_passed { "all passed" } else { "FAILED" });
    }
}

/// `12345.6` as `12,346`.
pub fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// Every gate of the run.
pub fn all_gates(targets: &[TargetReport]) -> impl Iterator<Item = &Gate> {
    targets.iter().flat_map(|t| t.flash.gates.iter())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0.4), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(12_345.6), "12,346");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
    }
}
