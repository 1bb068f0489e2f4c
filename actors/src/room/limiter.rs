//! A token bucket per chatting user: a burst, then a steady rate. Pure: time is passed in.

use std::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: f64,
}

#[derive(Debug, Clone)]
pub struct TokenBucket {
    tokens: f64,
    refilled_at: Instant,
}

impl TokenBucket {
    pub fn full(limit: RateLimit, now: Instant) -> Self {
        Self {
            tokens: limit.burst,
            refilled_at: now,
        }
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self, limit: RateLimit, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.refilled_at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * limit.per_second).min(limit.burst);
        self.refilled_at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_then_the_steady_rate() {
        let limit = RateLimit {
            per_second: 2.0,
            burst: 3.0,
        };
        let t0 = Instant::now();
        let mut bucket = TokenBucket::full(limit, t0);
        assert!((0..3).all(|_| bucket.try_take(limit, t0)));
        assert!(!bucket.try_take(limit, t0));
        assert!(bucket.try_take(limit, t0 + Duration::from_millis(500)));
        assert!(!bucket.try_take(limit, t0 + Duration::from_millis(600)));
    }
}
