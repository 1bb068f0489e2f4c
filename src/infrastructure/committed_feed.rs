//! The events the journal has just committed, handed to the outbox relay in memory.
//!
//! During a sale the journal commits hundreds of batches a second, and the relay followed each
//! one by reading the batch's events back from the outbox: a read transaction on a pool
//! connection (on SQLite re-reading pages, since the journal's commits invalidate that
//! connection's cache), on a blocking thread, and a JSON parse per event, all to learn what the
//! journal had in memory a moment before. Now the journal hands the relay the events it wrote,
//! with their row's sequence number, once their batch has committed.
//!
//! The table stays the truth: the relay takes rows from here only while they continue its
//! position without a gap. Events other writers appended (a room going live), a batch whose
//! commit had to be resolved, or events dropped because the relay fell far behind leave a gap,
//! and the relay then reads the table from its position, as before; what it read it skips here.

use super::repos::outbox::AppendedEvents;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;

/// Most events held for the relay; beyond this the oldest rows go (the relay reads them from the
/// table).
const HELD: usize = 8_000;

/// What the feed holds after the relay's position.
#[derive(Debug)]
pub enum Take {
    /// The rows right after it, in commit order.
    Events(Vec<AppendedEvents>),
    /// Nothing: no batch committed since (events written beside the journal do not come here).
    Nothing,
    /// Rows that do not continue it: what lies between is in the table only.
    Gap,
}

#[derive(Default)]
pub struct CommittedFeed {
    held: Mutex<Held>,
    wake: Notify,
}

/// The rows held, and how many events they hold together.
#[derive(Default)]
struct Held {
    rows: VecDeque<AppendedEvents>,
    events: usize,
}

impl Held {
    fn pop_front(&mut self) {
        if let Some(row) = self.rows.pop_front() {
            self.events -= row.events.len();
        }
    }
}

impl CommittedFeed {
    /// The row of one committed batch, and a wake-up for the relay.
    pub fn push(&self, row: AppendedEvents) {
        {
            let mut held = self.lock();
            held.events += row.events.len();
            held.rows.push_back(row);
            while held.events > HELD && held.rows.len() > 1 {
                held.pop_front();
            }
        }
        self.wake.notify_one();
    }

    /// Wakes the relay without events: something committed that it must read from the table.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Waits for the next push or wake (one that came since the last wait counts), or `timeout`;
    /// `false` when the time ran out.
    pub async fn wait(&self, timeout: Duration) -> bool {
        tokio::time::timeout(timeout, self.wake.notified()).await.is_ok()
    }

    /// The rows right after `published`, in commit order, whole, holding at most `max` events
    /// (the first row whatever its size), or why there are none. Rows at or before `published`
    /// are dropped: the relay has them.
    pub fn take_after(&self, published: i64, max: usize) -> Take {
        let mut held = self.lock();
        while held.rows.front().is_some_and(|row| row.seq <= published) {
            held.pop_front();
        }
        let (mut next, mut events, mut contiguous) = (published + 1, 0, 0);
        for row in &held.rows {
            let fits = contiguous == 0 || events + row.events.len() <= max;
            if row.seq != next || !fits {
                break;
            }
            (next, events, contiguous) = (next + 1, events + row.events.len(), contiguous + 1);
        }
        match (contiguous, held.rows.is_empty()) {
            (0, true) => Take::Nothing,
            (0, false) => Take::Gap,
            _ => {
                held.events -= events;
                Take::Events(held.rows.drain(..contiguous).collect())
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        // The lock guards plain pushes and drains, which cannot leave the queue half-changed.
        self.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livecart_actors::events::{DomainEvent, EventPayload};
    use livecart_actors::ids::new_id;

    /// The row `seq` holding `events` events.
    fn row(seq: i64, events: usize) -> AppendedEvents {
        AppendedEvents {
            seq,
            events: (0..events)
                .map(|_| DomainEvent::new(chrono::Utc::now(), EventPayload::LiveStarted { room_id: new_id() }))
                .collect(),
        }
    }

    fn push(feed: &CommittedFeed, seqs: impl IntoIterator<Item = i64>) {
        for seq in seqs {
            feed.push(row(seq, 1));
        }
    }

    /// The numbers of the rows taken; `None` for a gap, empty for nothing.
    fn seqs(taken: Take) -> Option<Vec<i64>> {
        match taken {
            Take::Events(rows) => Some(rows.into_iter().map(|r| r.seq).collect()),
            Take::Nothing => Some(Vec::new()),
            Take::Gap => None,
        }
    }

    #[test]
    fn rows_that_continue_the_position_are_taken_in_order_up_to_the_batch() {
        let feed = CommittedFeed::default();
        push(&feed, 11..=15);
        push(&feed, 16..=17);
        assert_eq!(seqs(feed.take_after(10, 4)), Some(vec![11, 12, 13, 14]));
        assert_eq!(seqs(feed.take_after(14, 100)), Some(vec![15, 16, 17]));
        assert_eq!(seqs(feed.take_after(17, 100)), Some(vec![]), "nothing left, and no gap");
    }

    #[test]
    fn rows_are_taken_whole_up_to_the_events_asked_for_and_the_first_whatever_its_size() {
        let feed = CommittedFeed::default();
        feed.push(row(1, 30));
        feed.push(row(2, 20));
        feed.push(row(3, 25));
        feed.push(row(4, 5));
        assert_eq!(
            seqs(feed.take_after(0, 10)),
            Some(vec![1]),
            "a row larger than asked goes alone"
        );
        assert_eq!(seqs(feed.take_after(1, 44)), Some(vec![2]), "never half a row");
        assert_eq!(seqs(feed.take_after(2, 30)), Some(vec![3, 4]), "30 events in two rows");
    }

    #[test]
    fn a_gap_sends_the_relay_to_the_table_and_what_it_read_there_is_skipped() {
        let feed = CommittedFeed::default();
        // 11 was appended by another writer: it never reaches the feed.
        push(&feed, 12..=14);
        assert_eq!(seqs(feed.take_after(10, 100)), None, "11 is missing: read the table");
        // The table read took the relay to 13; the feed goes on from there.
        assert_eq!(seqs(feed.take_after(13, 100)), Some(vec![14]));
    }

    #[test]
    fn a_gap_inside_the_feed_stops_the_take_before_it() {
        let feed = CommittedFeed::default();
        push(&feed, [21, 22, 24, 25]);
        assert_eq!(seqs(feed.take_after(20, 100)), Some(vec![21, 22]));
        assert_eq!(seqs(feed.take_after(22, 100)), None, "23 is in the table only");
        assert_eq!(seqs(feed.take_after(23, 100)), Some(vec![24, 25]));
    }

    #[test]
    fn a_relay_far_behind_loses_the_oldest_rows_to_the_table_not_the_newest() {
        let feed = CommittedFeed::default();
        // Rows of ten events: the feed holds the newest HELD events' rows.
        let rows = (HELD / 10) as i64 + 100;
        for seq in 1..=rows {
            feed.push(row(seq, 10));
        }
        assert_eq!(seqs(feed.take_after(0, 10)), None, "the oldest were dropped");
        let kept = seqs(feed.take_after(100, HELD)).expect("the newest are held");
        assert_eq!(kept.len(), HELD / 10);
        assert_eq!(kept.last(), Some(&rows));
        // What was taken no longer counts: as many again are all held.
        for seq in rows + 1..=rows + (HELD / 10) as i64 {
            feed.push(row(seq, 10));
        }
        let again = seqs(feed.take_after(rows, HELD)).expect("held");
        assert_eq!(again.len(), HELD / 10, "none dropped");
    }
}
