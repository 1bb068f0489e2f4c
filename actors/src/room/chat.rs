//! The room's chat ring: the last messages with their offsets, for replay after a reconnect.
//!
//! Offsets grow by one per message within an epoch. The epoch changes whenever the ring starts
//! afresh (a new RoomActor after a restart), so a client holding an offset of another epoch
//! cannot be given a wrong replay: it is told `recovered: false` and resyncs from the snapshot.

use crate::ids::UserId;
use chrono::{DateTime, Utc};
use std::collections::VecDeque;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub offset: u64,
    pub user_id: UserId,
    pub nickname: String,
    pub text: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug)]
pub struct ChatRing {
    epoch: u64,
    capacity: usize,
    messages: VecDeque<ChatMessage>,
    /// The offset the next message gets; offsets start at 1 so 0 means "nothing seen".
    next_offset: u64,
    /// The newest offset pushed out by capacity: a client behind it missed messages for good.
    evicted_up_to: u64,
}

impl ChatRing {
    pub fn new(epoch: u64, capacity: usize) -> Self {
        Self {
            epoch,
            capacity: capacity.max(1),
            messages: VecDeque::new(),
            next_offset: 1,
            evicted_up_to: 0,
        }
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The offset of the newest message, 0 when there has been none.
    pub fn last_offset(&self) -> u64 {
        self.next_offset - 1
    }

    pub fn append(&mut self, user_id: UserId, nickname: String, text: String, at: DateTime<Utc>) -> &ChatMessage {
        if self.messages.len() == self.capacity {
            if let Some(evicted) = self.messages.pop_front() {
                self.evicted_up_to = evicted.offset;
            }
        }
        let offset = self.next_offset;
        self.next_offset += 1;
        self.messages.push_back(ChatMessage {
            offset,
            user_id,
            nickname,
            text,
            at,
        });
        // unwrap: a message was pushed on the line above.
        self.messages.back().unwrap()
    }

    /// Removes a message (moderation); `false` if it is not in the ring.
    pub fn delete(&mut self, offset: u64) -> bool {
        let before = self.messages.len();
        self.messages.retain(|m| m.offset != offset);
        self.messages.len() != before
    }

    /// The messages after `offset` of `epoch`, or `None` when they cannot all be given: another
    /// epoch, an offset from the future, or messages already pushed out of the ring.
    pub fn since(&self, epoch: u64, offset: u64) -> Option<Vec<ChatMessage>> {
        if epoch != self.epoch || offset > self.last_offset() || offset < self.evicted_up_to {
            return None;
        }
        Some(self.messages.iter().filter(|m| m.offset > offset).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(capacity: usize) -> ChatRing {
        ChatRing::new(7, capacity)
    }

    fn say(ring: &mut ChatRing, text: &str) -> u64 {
        ring.append(UserId::nil(), "n".into(), text.into(), Utc::now()).offset
    }

    #[test]
    fn offsets_increase_and_replay_starts_after_the_given_one() {
        let mut r = ring(10);
        assert_eq!(say(&mut r, "a"), 1);
        assert_eq!(say(&mut r, "b"), 2);
        assert_eq!(say(&mut r, "c"), 3);
        let missed = r.since(7, 1).expect("recoverable");
        assert_eq!(missed.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(), ["b", "c"]);
        assert_eq!(r.since(7, 3).expect("recoverable"), vec![]);
    }

    #[test]
    fn another_epoch_or_a_future_offset_is_not_recoverable() {
        let mut r = ring(10);
        say(&mut r, "a");
        assert!(r.since(8, 0).is_none());
        assert!(r.since(7, 2).is_none());
    }

    #[test]
    fn an_offset_older_than_the_ring_is_not_recoverable() {
        let mut r = ring(2);
        for t in ["a", "b", "c", "d"] {
            say(&mut r, t);
        }
        assert!(r.since(7, 1).is_none(), "message 2 left the ring");
        assert_eq!(r.since(7, 2).expect("3 and 4 are kept").len(), 2);
    }

    #[test]
    fn deleted_messages_are_not_replayed() {
        let mut r = ring(10);
        say(&mut r, "a");
        let bad = say(&mut r, "spam");
        assert!(r.delete(bad));
        assert!(!r.delete(bad));
        assert_eq!(r.since(7, 0).expect("recoverable").len(), 1);
    }
}
