//! The room's chat ring: the last messages with their offsets, for replay after a reconnect.
//!
//! Offsets grow by one per message within an epoch. The epoch changes whenever the ring starts
//! afresh (a new RoomActor after a restart), so a client holding an offset of another epoch
//! cannot be given a wrong replay: it is told `recovered: false` and resyncs from the snapshot.

use crate::ids::UserId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub offset: u64,
    pub user_id: UserId,
    pub nickname: String,
    pub text: String,
    pub at: DateTime<Utc>,
}

/// How far a restored ring's offsets jump: more messages than a room can take between two
/// snapshots (one a second).
pub const RESTORE_GAP: u64 = 100_000;

/// The chat ring as a snapshot stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatSnapshot {
    pub epoch: u64,
    pub next_offset: u64,
    pub evicted_up_to: u64,
    pub messages: Vec<ChatMessage>,
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

    /// What a restart needs to resume this ring in the same epoch.
    pub fn snapshot(&self) -> ChatSnapshot {
        ChatSnapshot {
            epoch: self.epoch,
            next_offset: self.next_offset,
            evicted_up_to: self.evicted_up_to,
            messages: self.messages.iter().cloned().collect(),
        }
    }

    /// The ring as it was snapshotted: the same epoch and offsets, so a viewer who reconnects
    /// after a restart gets exactly the messages it missed. New offsets start [`RESTORE_GAP`]
    /// past the snapshot's: after a crash the last second's messages may be missing from it, and
    /// their offsets, which viewers saw, must never name other messages.
    pub fn restore(snapshot: ChatSnapshot, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let mut messages: VecDeque<ChatMessage> = snapshot.messages.into();
        let mut evicted_up_to = snapshot.evicted_up_to;
        while messages.len() > capacity {
            if let Some(evicted) = messages.pop_front() {
                evicted_up_to = evicted.offset;
            }
        }
        let last = messages.back().map_or(0, |m| m.offset);
        Self {
            epoch: snapshot.epoch,
            capacity,
            messages,
            next_offset: snapshot.next_offset.max(last + 1).max(1) + RESTORE_GAP,
            evicted_up_to,
        }
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
    fn a_restored_ring_resumes_in_its_epoch_with_its_offsets() {
        let mut r = ring(3);
        for t in ["a", "b", "c", "d"] {
            say(&mut r, t);
        }
        let mut back = ChatRing::restore(r.snapshot(), 3);
        assert_eq!(back.epoch(), 7);
        assert_eq!(back.since(7, 2), r.since(7, 2));
        assert!(back.since(7, 0).is_none(), "what was evicted stays evicted");
        assert_eq!(say(&mut back, "e"), 5 + RESTORE_GAP, "offsets go on past a gap");
        assert_eq!(
            back.since(7, 4).map(|m| m.len()),
            Some(1),
            "a viewer at the old end gets the new one"
        );
        let smaller = ChatRing::restore(r.snapshot(), 1);
        assert!(smaller.since(7, 2).is_none());
        assert_eq!(smaller.since(7, 3).map(|m| m.len()), Some(1));
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
