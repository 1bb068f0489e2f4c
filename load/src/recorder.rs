//! What one pass measured, gathered while it runs: every answer's latency in an HDR histogram
//! (overall, and per second of the pass for the plots), the acknowledgements, and every other
//! answer counted by its error code.
//!
//! The connections of a pass share one recorder behind a mutex: on a client of two threads the
//! lock is almost never contended, and one recorder per pass (rather than one histogram per
//! connection) keeps a pass of 1,000 connections small.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Latencies are kept in microseconds, up to a minute.
pub const MAX_LATENCY_US: u64 = 60_000_000;

/// The timeline's resolution: four points a second, so a pass of a few seconds makes a line.
pub const TICK: Duration = Duration::from_millis(250);

/// How one answer ended, as the client saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The status (or frame) that acknowledges: the server took the order or echoed the body.
    Acked,
    /// A refusal the scenario expects (`sold_out` once a small listing is gone, say): counted by
    /// code, not an error.
    Refused(String),
    /// Anything else: another status with its error code, a broken connection, a timeout.
    Failed(String),
}

/// The error codes of a request sent whose answer never came (no answer in time, the connection
/// broke): the server may or may not have taken it, so a gate allows for each.
const UNANSWERED: &[&str] = &["timeout", "io"];

/// The shared state of one pass. `start` is when measuring begins (after the warm-up); answers
/// before it count toward the acknowledgements (the gates need every one) but not the figures.
pub struct Recorder {
    start: Instant,
    end: Instant,
    /// Acknowledged in the measured window, for the progress bar (read without the lock).
    pub acked_live: AtomicU64,
    inner: Mutex<Inner>,
}

struct Inner {
    latency_us: Histogram<u64>,
    ticks: Vec<Slice>,
    acked_total: u64,
    unanswered_total: u64,
    acked: u64,
    refused: BTreeMap<String, u64>,
    failed: BTreeMap<String, u64>,
    first_failure: Option<String>,
}

/// One tick of a pass, for the plots: two significant digits are plenty for a line.
struct Slice {
    acked: u64,
    latency_us: Histogram<u64>,
}

fn histogram(digits: u8) -> Histogram<u64> {
    // 1 µs to a minute at 2 or 3 digits are valid bounds.
    Histogram::new_with_bounds(1, MAX_LATENCY_US, digits).expect("valid histogram bounds")
}

impl Recorder {
    pub fn new(start: Instant, measure: Duration) -> Recorder {
        let ticks = (measure.as_secs_f64() / TICK.as_secs_f64()).ceil() as usize;
        Recorder {
            start,
            end: start + measure,
            acked_live: AtomicU64::new(0),
            inner: Mutex::new(Inner {
                latency_us: histogram(3),
                ticks: (0..ticks.max(1))
                    .map(|_| Slice {
                        acked: 0,
                        latency_us: histogram(2),
                    })
                    .collect(),
                acked_total: 0,
                unanswered_total: 0,
                acked: 0,
                refused: BTreeMap::new(),
                failed: BTreeMap::new(),
                first_failure: None,
            }),
        }
    }

    pub fn start(&self) -> Instant {
        self.start
    }

    pub fn end(&self) -> Instant {
        self.end
    }

    /// Records one answer to a request that was due (or sent) at `began` and answered at `done`.
    pub fn record(&self, began: Instant, done: Instant, answer: Answer) {
        let measured = began >= self.start && done <= self.end;
        let us = (done.saturating_duration_since(began).as_micros() as u64).clamp(1, MAX_LATENCY_US);
        if measured && answer == Answer::Acked {
            self.acked_live.fetch_add(1, Ordering::Relaxed);
        }
        let mut inner = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match answer {
            Answer::Acked => {
                inner.acked_total += 1;
                if measured {
                    inner.acked += 1;
                    inner.latency_us.saturating_record(us);
                    let tick = ((done - self.start).as_secs_f64() / TICK.as_secs_f64()) as usize;
                    if let Some(s) = inner.ticks.get_mut(tick) {
                        s.acked += 1;
                        s.latency_us.saturating_record(us);
                    }
                }
            }
            Answer::Refused(code) => *inner.refused.entry(code).or_default() += 1,
            Answer::Failed(why) => {
                let code = why.split(':').next().unwrap_or("failed").to_owned();
                if UNANSWERED.contains(&code.as_str()) {
                    inner.unanswered_total += 1;
                }
                *inner.failed.entry(code).or_default() += 1;
                inner.first_failure.get_or_insert(why);
            }
        }
    }

    /// Records a latency that is not a request's (a fan-out frame's delivery), as acknowledged.
    pub fn delivered(&self, sent: Instant, received: Instant) {
        self.record(sent, received, Answer::Acked);
    }

    /// The pass's figures once its connections are done.
    pub fn finish(&self, offered_per_s: Option<f64>) -> Figures {
        let inner = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let measure_s = (self.end - self.start).as_secs_f64();
        let h = &inner.latency_us;
        let ms = |q: f64| {
            if h.is_empty() {
                0.0
            } else {
                h.value_at_quantile(q) as f64 / 1000.0
            }
        };
        Figures {
            measure_s,
            offered_per_s,
            per_s: inner.acked as f64 / measure_s,
            acked: inner.acked,
            acked_total: inner.acked_total,
            unanswered_total: inner.unanswered_total,
            p50_ms: ms(0.50),
            p90_ms: ms(0.90),
            p99_ms: ms(0.99),
            p999_ms: ms(0.999),
            max_ms: if h.is_empty() { 0.0 } else { h.max() as f64 / 1000.0 },
            refused: inner.refused.clone(),
            errors: inner.failed.clone(),
            first_error: inner.first_failure.clone(),
            timeline: inner
                .ticks
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let q = |q: f64| {
                        if s.latency_us.is_empty() {
                            0.0
                        } else {
                            s.latency_us.value_at_quantile(q) as f64 / 1000.0
                        }
                    };
                    Tick {
                        at_s: (i + 1) as f64 * TICK.as_secs_f64(),
                        per_s: s.acked as f64 / TICK.as_secs_f64(),
                        p50_ms: q(0.50),
                        p99_ms: q(0.99),
                        p999_ms: q(0.999),
                    }
                })
                .collect(),
        }
    }
}

/// The summary of a pass, as the table prints it and the JSON report keeps it.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub measure_s: f64,
    /// Open loop: the rate the schedule offered; closed loop: none.
    pub offered_per_s: Option<f64>,
    /// Acknowledged per second in the measured window: the achieved rate.
    pub per_s: f64,
    pub acked: u64,
    /// Every acknowledgement, warm-up and stragglers included: what the gates count.
    pub acked_total: u64,
    /// Requests sent whose answer never came (timeout, broken connection), warm-up included:
    /// each may have been taken, unacknowledged.
    pub unanswered_total: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// Expected refusals by error code.
    pub refused: BTreeMap<String, u64>,
    /// Errors by code (`409 sold_out`, `timeout`, `io`, …).
    pub errors: BTreeMap<String, u64>,
    pub first_error: Option<String>,
    /// One entry per `TICK` of the measured window.
    pub timeline: Vec<Tick>,
}

impl Figures {
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// One `TICK` of a pass, ending `at_s` seconds into the measured window.
#[derive(Debug, Clone, Serialize)]
pub struct Tick {
    pub at_s: f64,
    /// Acknowledged in the tick, per second.
    pub per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_answers_inside_the_measured_window_make_the_figures_but_every_ack_is_counted() {
        let start = Instant::now();
        let recorder = Recorder::new(start, Duration::from_secs(2));
        // Warm-up: before the window.
        recorder.record(
            start - Duration::from_millis(5),
            start - Duration::from_millis(1),
            Answer::Acked,
        );
        recorder.record(start, start + Duration::from_millis(3), Answer::Acked);
        recorder.record(
            start + Duration::from_millis(1500),
            start + Duration::from_millis(1510),
            Answer::Acked,
        );
        // A straggler answered after the end.
        recorder.record(
            start + Duration::from_millis(1999),
            start + Duration::from_secs(3),
            Answer::Acked,
        );
        recorder.record(start, start, Answer::Refused("409 sold_out".into()));
        recorder.record(start, start, Answer::Failed("503 unavailable: storage down".into()));
        recorder.record(start, start, Answer::Failed("503 unavailable: again".into()));

        let f = recorder.finish(None);
        assert_eq!(f.acked_total, 4);
        assert_eq!(f.acked, 2);
        assert_eq!(f.per_s, 1.0);
        assert_eq!(f.timeline.len(), 8, "four ticks a second");
        assert_eq!(f.timeline[0].per_s, 4.0, "one in the first quarter second");
        assert_eq!(f.timeline[6].per_s, 4.0, "one at 1.51 s");
        assert_eq!(f.timeline[7].at_s, 2.0);
        assert_eq!(f.timeline.iter().map(|t| t.per_s).sum::<f64>(), 8.0);
        assert!((2.9..=3.1).contains(&f.p50_ms), "p50 {}", f.p50_ms);
        assert!((9.9..=10.1).contains(&f.max_ms), "max {}", f.max_ms);
        assert_eq!(f.refused.get("409 sold_out"), Some(&1));
        assert_eq!(f.errors.get("503 unavailable"), Some(&2));
        assert_eq!(f.error_count(), 2);
        assert_eq!(f.first_error.as_deref(), Some("503 unavailable: storage down"));
    }
}
