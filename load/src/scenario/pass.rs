//! One measured pass: its timeline (connect, warm up, measure), its progress bar, and its line
//! of the report.

use crate::metrics::ServerFigures;
use crate::process;
use crate::recorder::{Figures, Recorder};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The durations every pass of a run shares.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub warm_up: Duration,
    pub measure: Duration,
    pub quiet: bool,
}

impl Timing {
    /// A pass over `connections` starts after a lead long enough to open them all, untimed.
    pub fn start(&self, connections: usize) -> Instant {
        Instant::now() + Duration::from_millis(300 + connections as u64 / 2)
    }

    /// The recorder of a pass starting at `start`: it measures after the warm-up.
    pub fn recorder(&self, start: Instant) -> Arc<Recorder> {
        Arc::new(Recorder::new(start + self.warm_up, self.measure))
    }

    /// A bar that runs until the recorder's end, showing the acknowledgements per second so far.
    pub fn progress(&self, label: String, recorder: &Arc<Recorder>) -> Option<tokio::task::JoinHandle<()>> {
        if self.quiet {
            return None;
        }
        let total = self.warm_up + self.measure;
        let bar = ProgressBar::new(total.as_millis() as u64);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix:<44} [{bar:30}] {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(label);
        let recorder = Arc::clone(recorder);
        let begin = recorder.start() - self.warm_up;
        Some(tokio::spawn(async move {
            loop {
                let now = Instant::now();
                bar.set_position(now.saturating_duration_since(begin).as_millis() as u64);
                let measured = now.saturating_duration_since(recorder.start()).as_secs_f64();
                if measured > 0.0 {
                    let acked = recorder.acked_live.load(Ordering::Relaxed) as f64;
                    bar.set_message(format!("{:.0}/s", acked / measured));
                } else {
                    bar.set_message("warming up");
                }
                if now >= recorder.end() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            bar.finish_and_clear();
        }))
    }
}

/// One pass of a flash sale, as the table prints it and the JSON report keeps it.
#[derive(Debug, Clone, Serialize)]
pub struct PassReport {
    pub target: String,
    /// `http` or `ws`.
    pub transport: &'static str,
    pub connections: usize,
    /// `closed` or `open`.
    pub pacing: &'static str,
    #[serde(flatten)]
    pub figures: Figures,
    /// livecart's own counters over the pass (warm-up included).
    pub server: Option<ServerFigures>,
    /// The server process's CPU time over the pass, in cores (1.0 = one core busy), when known.
    pub server_cores: Option<f64>,
}

/// Reads a process's CPU time before a pass and turns it into cores used after it.
pub struct CpuMeter {
    pid: Option<u32>,
    at: Instant,
    cpu_s: Option<f64>,
}

impl CpuMeter {
    pub fn start(pid: Option<u32>) -> CpuMeter {
        CpuMeter {
            pid,
            at: Instant::now(),
            cpu_s: pid.and_then(process::cpu_seconds),
        }
    }

    pub fn cores(&self) -> Option<f64> {
        let now = self.pid.and_then(process::cpu_seconds)?;
        Some((now - self.cpu_s?) / self.at.elapsed().as_secs_f64())
    }
}
