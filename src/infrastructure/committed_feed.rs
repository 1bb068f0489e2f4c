//! The events the journal has just committed, handed to the outbox relay in memory.
//!
//! During a sale the journal commits hundreds of batches a second, and the relay followed each
//! one by reading the batch's events back from `outbox_events`: a read transaction on a pool
//! connection (on SQLite re-reading pages, since the journal's commits invalidate that
//! connection's cache), on a blocking thread, and a JSON parse per event, all to learn what the
//! journal had in memory a moment before. Now the journal hands the relay the events it wrote,
//! with their sequence numbers, once their batch has committed.
//!
//! The table stays the truth: the relay takes events from here only while they continue its
//! position without a gap. Events other writers appended (a room going live), a batch whose
//! commit had to be resolved, or events dropped because the relay fell far behind leave a gap,
//! and the relay then reads the table from its position, as before; what it read it skips here.

use super::repos::outbox::PendingEvent;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;

/// Most events held for the relay; beyond this the oldest go (the relay reads them from the table).
const HELD: usize = 8_000;

/// What the feed holds after the relay's position.
#[derive(Debug)]
pub enum Take {
    /// The events right after it, in commit order.
    Events(Vec<PendingEvent>),
    /// Nothing: no batch committed since (events written beside the journal do not come here).
    Nothing,
    /// Events that do not continue it: what lies between is in the table only.
    Gap,
}

#[derive(Default)]
pub struct CommittedFeed {
    held: Mutex<VecDeque<PendingEvent>>,
    wake: Notify,
}

impl CommittedFeed {
    /// Events of one committed batch, in commit order, and a wake-up for the relay.
    pub fn push(&self, events: impl IntoIterator<Item = PendingEvent>) {
        {
            let mut held = self.lock();
            held.extend(events);
            let excess = held.len().saturating_sub(HELD);
            held.drain(..excess);
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

    /// The events right after `published`, in commit order, at most `max`, or why there are none.
    /// Events at or before `published` are dropped: the relay has them.
    pub fn take_after(&self, published: i64, max: usize) -> Take {
        let mut held = self.lock();
        let stale = held.iter().take_while(|e| e.seq <= published).count();
        held.drain(..stale);
        let mut next = published + 1;
        let contiguous = held
            .iter()
            .take(max)
            .take_while(|e| {
                let continues = e.seq == next;
                next += 1;
                continues
            })
            .count();
        match (contiguous, held.is_empty()) {
            (0, true) => Take::Nothing,
            (0, false) => Take::Gap,
            _ => Take::Events(held.drain(..contiguous).collect()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<PendingEvent>> {
        // The lock guards plain pushes and drains, which cannot leave the queue half-changed.
        self.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livecart_actors::events::{DomainEvent, EventPayload};
    use livecart_actors::ids::new_id;

    fn events(seqs: impl IntoIterator<Item = i64>) -> Vec<PendingEvent> {
        seqs.into_iter()
            .map(|seq| PendingEvent {
                seq,
                event: DomainEvent::new(chrono::Utc::now(), EventPayload::LiveStarted { room_id: new_id() }),
            })
            .collect()
    }

    /// The numbers taken; `None` for a gap, empty for nothing.
    fn seqs(taken: Take) -> Option<Vec<i64>> {
        match taken {
            Take::Events(events) => Some(events.into_iter().map(|e| e.seq).collect()),
            Take::Nothing => Some(Vec::new()),
            Take::Gap => None,
        }
    }

    #[test]
    fn events_that_continue_the_position_are_taken_in_order_up_to_the_batch() {
        let feed = CommittedFeed::default();
        feed.push(events(11..=15));
        feed.push(events(16..=17));
        assert_eq!(seqs(feed.take_after(10, 4)), Some(vec![11, 12, 13, 14]));
        assert_eq!(seqs(feed.take_after(14, 100)), Some(vec![15, 16, 17]));
        assert_eq!(seqs(feed.take_after(17, 100)), Some(vec![]), "nothing left, and no gap");
    }

    #[test]
    fn a_gap_sends_the_relay_to_the_table_and_what_it_read_there_is_skipped() {
        let feed = CommittedFeed::default();
        // 11 was appended by another writer: it never reaches the feed.
        feed.push(events(12..=14));
        assert_eq!(seqs(feed.take_after(10, 100)), None, "11 is missing: read the table");
        // The table read took the relay to 13; the feed goes on from there.
        assert_eq!(seqs(feed.take_after(13, 100)), Some(vec![14]));
    }

    #[test]
    fn a_gap_inside_the_feed_stops_the_take_before_it() {
        let feed = CommittedFeed::default();
        feed.push(events([21, 22, 24, 25]));
        assert_eq!(seqs(feed.take_after(20, 100)), Some(vec![21, 22]));
        assert_eq!(seqs(feed.take_after(22, 100)), None, "23 is in the table only");
        assert_eq!(seqs(feed.take_after(23, 100)), Some(vec![24, 25]));
    }

    #[test]
    fn a_relay_far_behind_loses_the_oldest_events_to_the_table_not_the_newest() {
        let feed = CommittedFeed::default();
        let last = HELD as i64 + 100;
        feed.push(events(1..=last));
        assert_eq!(seqs(feed.take_after(0, 10)), None, "the oldest were dropped");
        let kept = seqs(feed.take_after(100, HELD)).expect("the newest are held");
        assert_eq!(kept.len(), HELD);
        assert_eq!(kept.last(), Some(&last));
    }
}
