//! The bench's printout: one line per pass, then the ratios DESIGN.md states its targets in.

use super::load::Outcome;
use super::shop::ServerFigures;

/// One measured pass, named for the table.
pub struct Pass {
    pub name: String,
    pub outcome: Outcome,
    /// What livecart counted during the pass (warm-up included); `None` for the echo server.
    pub server: Option<ServerFigures>,
}

impl Pass {
    fn pacing(&self) -> String {
        match self.outcome.plan.rate {
            None => "closed loop".into(),
            Some(rate) => format!("open {}/s", thousands(rate)),
        }
    }
}

/// Prints the passes as a table. For livecart's passes the last three columns explain the
/// client's figures: orders per journal commit, the mean time from the actor lookup to its
/// answer (commit included, as `place_order` times it), and the events the outbox relay
/// delivered per second beside the load.
pub fn table(passes: &[Pass]) {
    println!(
        "{:<22} {:>14} {:>9} {:>7} {:>7} {:>7} {:>10} {:>9} {:>9}",
        "pass", "pacing", "req/s", "p50 ms", "p99 ms", "max ms", "per commit", "actor ms", "relayed/s"
    );
    for pass in passes {
        let o = &pass.outcome;
        let server = match pass.server {
            Some(f) => {
                let seconds = (o.plan.warm_up + o.plan.measure).as_secs_f64();
                format!(
                    "{:>10.1} {:>9.2} {:>9}",
                    f.journaled / f.commits.max(1.0),
                    1000.0 * f.deciding_s / f.decided.max(1.0),
                    thousands(f.published / seconds),
                )
            }
            None => format!("{:>10} {:>9} {:>9}", "-", "-", "-"),
        };
        println!(
            "{:<22} {:>14} {:>9} {:>7.2} {:>7.2} {:>7.2} {server}",
            pass.name,
            pass.pacing(),
            thousands(o.per_second()),
            o.quantile_ms(0.50),
            o.quantile_ms(0.99),
            o.max_ms(),
        );
    }
}

/// Prints the order path of one backend against the echo baseline and the design's targets.
pub fn verdict(backend: &str, echo: &Outcome, peak: &Outcome, half: &Outcome) {
    let ratio = peak.per_second() / echo.per_second();
    let p99 = half.quantile_ms(0.99);
    println!(
        "{backend}: orders/echo = {ratio:.2} (target ≥ 0.50: {}); p99 at half of peak = {p99:.2} ms (target < 10 ms: {})",
        met(ratio >= 0.5),
        met(p99 < 10.0),
    );
}

fn met(yes: bool) -> &'static str {
    if yes {
        "met"
    } else {
        "NOT met"
    }
}

/// `12345.6` as `12,346`.
fn thousands(x: f64) -> String {
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
