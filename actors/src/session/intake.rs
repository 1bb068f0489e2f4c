//! What one connection may put on its room's mailbox: a token bucket over chat and like frames,
//! and likes summed between flushes. Without it, one client sending as fast as its link allows
//! fills the RoomActor's mailbox and everybody else in the room is refused as "busy". Pure: time
//! is passed in.

use crate::room::limiter::{RateLimit, TokenBucket};
use std::time::{Duration, Instant};

/// How a session paces what it forwards to its room.
#[derive(Debug, Clone, Copy)]
pub struct SessionConfig {
    /// Chat and like frames one connection may send; `None` turns the limit off (load tests).
    pub inbound_limit: Option<RateLimit>,
    /// How long a connection's likes are summed before one message takes them to the room. Always
    /// on: a like flood then costs the room a few messages a second, limits or not.
    pub like_flush_every: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            inbound_limit: Some(RateLimit {
                per_second: 20.0,
                burst: 40.0,
            }),
            like_flush_every: Duration::from_millis(200),
        }
    }
}

/// At most one `rate_limited` notice per this interval: refusing a flood must not become a flood
/// of error frames, which would fill the sender's outbox and close it.
const NOTICE_EVERY: Duration = Duration::from_secs(1);

/// Whether a chat or like frame goes on to the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Pass,
    /// Over the rate: dropped. `notify` says whether to tell the sender this time.
    Refuse {
        notify: bool,
    },
}

#[derive(Debug)]
pub struct Intake {
    limit: Option<RateLimit>,
    bucket: Option<TokenBucket>,
    last_notice: Option<Instant>,
    /// Likes accepted since the last flush.
    pending_likes: u32,
}

impl Intake {
    pub fn new(limit: Option<RateLimit>, now: Instant) -> Self {
        Self {
            limit,
            bucket: limit.map(|l| TokenBucket::full(l, now)),
            last_notice: None,
            pending_likes: 0,
        }
    }

    /// Takes one frame's token, or refuses the frame.
    pub fn admit(&mut self, now: Instant) -> Admission {
        let (Some(limit), Some(bucket)) = (self.limit, self.bucket.as_mut()) else {
            return Admission::Pass;
        };
        if bucket.try_take(limit, now) {
            return Admission::Pass;
        }
        let notify = self
            .last_notice
            .is_none_or(|at| now.saturating_duration_since(at) >= NOTICE_EVERY);
        if notify {
            self.last_notice = Some(now);
        }
        Admission::Refuse { notify }
    }

    /// Adds likes to the sum; `true` when the sum was empty, i.e. a flush must be scheduled.
    pub fn add_likes(&mut self, count: u32) -> bool {
        let was_empty = self.pending_likes == 0;
        self.pending_likes = self.pending_likes.saturating_add(count);
        was_empty && self.pending_likes > 0
    }

    /// The likes summed since the last flush, if any, leaving the sum empty.
    pub fn take_likes(&mut self) -> Option<u32> {
        match std::mem::take(&mut self.pending_likes) {
            0 => None,
            n => Some(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: RateLimit = RateLimit {
        per_second: 10.0,
        burst: 3.0,
    };

    #[test]
    fn a_burst_passes_then_frames_are_refused_with_one_notice_a_second() {
        let t0 = Instant::now();
        let mut intake = Intake::new(Some(LIMIT), t0);
        assert!((0..3).all(|_| intake.admit(t0) == Admission::Pass));
        assert_eq!(intake.admit(t0), Admission::Refuse { notify: true });
        let ms = |n| t0 + Duration::from_millis(n);
        assert_eq!(intake.admit(ms(10)), Admission::Refuse { notify: false });
        // The bucket refills at its rate whatever the refusals: a token within 110 ms.
        assert_eq!(intake.admit(ms(110)), Admission::Pass);
        assert_eq!(intake.admit(ms(110)), Admission::Refuse { notify: false });
        // A second after the notice, the next refusal is told again.
        assert!((0..3).all(|_| intake.admit(ms(1000)) == Admission::Pass));
        assert_eq!(intake.admit(ms(1000)), Admission::Refuse { notify: true });
    }

    #[test]
    fn a_flood_passes_only_the_rate() {
        let t0 = Instant::now();
        let mut intake = Intake::new(Some(LIMIT), t0);
        // 10,000 frames over one second: the burst and ten a second get through.
        let passed = (0..10_000)
            .filter(|i| intake.admit(t0 + Duration::from_micros(i * 100)) == Admission::Pass)
            .count();
        assert!((12..=13).contains(&passed), "{passed} passed");
    }

    #[test]
    fn without_a_limit_everything_passes() {
        let t0 = Instant::now();
        let mut intake = Intake::new(None, t0);
        assert!((0..10_000).all(|_| intake.admit(t0) == Admission::Pass));
    }

    #[test]
    fn likes_are_summed_until_taken_and_only_the_first_schedules_a_flush() {
        let mut intake = Intake::new(None, Instant::now());
        assert_eq!(intake.take_likes(), None);
        assert!(intake.add_likes(3));
        assert!(!intake.add_likes(4));
        assert!(!intake.add_likes(u32::MAX), "the sum saturates rather than wraps");
        assert_eq!(intake.take_likes(), Some(u32::MAX));
        assert_eq!(intake.take_likes(), None);
        assert!(intake.add_likes(1), "an empty sum schedules again");
    }
}
