//! The open-loop schedule: when each connection's requests fall due.
//!
//! A closed loop (next request as soon as the last is answered) finds the peak but hides stalls:
//! a connection that waits 100 ms simply sends less, so the histogram shows one slow request
//! where a real crowd would have piled up a hundred (coordinated omission). In the open loop the
//! arrivals are fixed in advance: `rate` requests per second in all, spread evenly over the
//! connections and staggered inside each interval, and a request sent late because its
//! connection was still busy is timed from when it fell due.

use std::time::{Duration, Instant};

/// One connection's share of an open-loop pass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    first: Instant,
    every: Duration,
}

impl Schedule {
    /// Connection `conn` of `connections`, the whole pass offering `rate` requests per second
    /// from `start`. Each connection sends every `connections / rate` seconds; connection `c`
    /// starts `c / connections` of an interval late, so the arrivals of all connections
    /// together are evenly spaced.
    pub fn new(start: Instant, rate: f64, connections: usize, conn: usize) -> Schedule {
        let connections = connections.max(1);
        let every = Duration::from_secs_f64(connections as f64 / rate.max(0.001));
        let offset = every.mul_f64(conn as f64 / connections as f64);
        Schedule {
            first: start + offset,
            every,
        }
    }

    /// When request `k` (from 0) of this connection falls due.
    pub fn due(&self, k: u64) -> Instant {
        self.first + self.every.saturating_mul(k.min(u32::MAX as u64) as u32)
    }

    /// When request `k` falls due, or `None` when that is at or after `end`: a request due once
    /// the pass is over is never sent, and its connection must not wait for it. At a rate far
    /// below the number of connections (a design that answered almost nothing in its closed
    /// loop) a connection's first request falls due long after the pass ends.
    pub fn due_before(&self, k: u64, end: Instant) -> Option<Instant> {
        let due = self.due(k);
        (due < end).then_some(due)
    }
}

/// When a request counts as begun: the moment it fell due when it is sent late (so a stall shows
/// as latency), else the moment it was really sent (a timer that fires a little late is the
/// client's slack, not the server's).
pub fn began(due: Instant, sent: Instant) -> Instant {
    due.min(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connections_together_offer_the_rate_evenly_spaced() {
        let start = Instant::now();
        let (rate, connections) = (1000.0, 8);
        let mut dues: Vec<Duration> = (0..connections)
            .flat_map(|c| {
                let s = Schedule::new(start, rate, connections, c);
                (0..)
                    .map(move |k| s.due(k))
                    .take_while(move |d| *d < start + Duration::from_secs(2))
                    .map(move |d| d - start)
            })
            .collect();
        dues.sort();
        assert_eq!(dues.len(), 2000, "1,000/s for 2 s");
        for pair in dues.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(
                gap >= Duration::from_micros(999) && gap <= Duration::from_micros(1001),
                "arrivals 1 ms apart, got {gap:?}"
            );
        }
    }

    #[test]
    fn a_late_request_is_timed_from_when_it_fell_due_and_an_early_one_from_its_send() {
        let due = Instant::now();
        let late = due + Duration::from_millis(40);
        assert_eq!(began(due, late), due);
        let early = due - Duration::from_micros(10);
        assert_eq!(began(due, early), early);
    }

    #[test]
    fn nothing_falls_due_at_or_after_the_end() {
        let start = Instant::now();
        let end = start + Duration::from_secs(1);
        // 2 requests per second over 4 connections: each sends every 2 s, the fourth 1.5 s late.
        let first = Schedule::new(start, 2.0, 4, 0);
        assert_eq!(first.due_before(0, end), Some(start));
        assert_eq!(first.due_before(1, end), None, "due at 2 s");
        assert_eq!(Schedule::new(start, 2.0, 4, 3).due_before(0, end), None, "due at 1.5 s");
        let last = Schedule::new(start, 0.0, 1000, 999);
        assert_eq!(
            last.due_before(0, end),
            None,
            "a near-zero rate puts the first request past the end"
        );
    }

    #[test]
    fn a_zero_rate_does_not_divide_by_zero() {
        let s = Schedule::new(Instant::now(), 0.0, 4, 1);
        assert!(s.due(1) > s.due(0));
    }
}
