//! Exponential backoff for loops that retry an outside service (the outbox relay, the stream
//! consumers): quick retries for a blip, a slow steady pace for an outage, so a Redis or database
//! that is away is not hammered and the logs get a line every few seconds, not thousands.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
    /// Failures since the last success, for the log line that says the service is back.
    failures: u64,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max,
            next: first,
            failures: 0,
        }
    }

    /// The pause before the next attempt after a failure; each failure doubles it, up to `max`.
    pub fn fail(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(self.max);
        self.failures += 1;
        pause
    }

    /// Resets after a success; returns how many failures came before it.
    pub fn succeed(&mut self) -> u64 {
        self.next = self.first;
        std::mem::take(&mut self.failures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_the_cap_and_a_success_starts_over() {
        let ms = Duration::from_millis;
        let mut backoff = Backoff::new(ms(100), ms(350));
        let pauses: Vec<Duration> = (0..4).map(|_| backoff.fail()).collect();
        assert_eq!(pauses, vec![ms(100), ms(200), ms(350), ms(350)]);
        assert_eq!(backoff.succeed(), 4);
        assert_eq!(backoff.fail(), ms(100));
        assert_eq!(backoff.succeed(), 1);
        assert_eq!(backoff.succeed(), 0);
    }
}
