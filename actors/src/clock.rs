//! The clock port. Sale windows and reservation expiry are decided at the server's time, and tests
//! move a manual clock instead of sleeping.

use chrono::{DateTime, Duration, Utc};
use std::sync::Mutex;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// `at` to the whole millisecond, as storage keeps times and as a reservation's deadline is
/// decided. A time that already is one is returned as it is: the calendar arithmetic of the
/// conversion is a tenth of what an actor spends deciding a reservation, and a gathered batch of
/// reserves is decided at one time read once.
pub fn to_whole_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    if at.timestamp_subsec_nanos().is_multiple_of(1_000_000) {
        return at;
    }
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
}

/// Wall-clock time, for production.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to, for tests of windows and expiry.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self { now: Mutex::new(start) }
    }

    pub fn advance(&self, by: Duration) {
        // unwrap: the lock is never held across a panic point.
        let mut now = self.now.lock().unwrap();
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        // unwrap: the lock is never held across a panic point.
        *self.now.lock().unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_millis_drop_the_rest_and_keep_a_whole_one_as_it_is() {
        let at = DateTime::from_timestamp(1_800_000_000, 123_456_789).expect("a time");
        let whole = to_whole_millis(at);
        assert_eq!(whole.timestamp_millis(), at.timestamp_millis());
        assert_eq!(whole.timestamp_subsec_nanos(), 123_000_000);
        assert_eq!(to_whole_millis(whole), whole);
    }
}
