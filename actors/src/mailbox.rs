//! How many messages wait in the mailboxes of each kind of actor, for `/metrics`.
//!
//! actix keeps its mailbox count private, so the messages that arrive in bulk carry a [`Queued`]
//! ticket: made when the message is built to be sent, dropped when the handler is done with the
//! message (or when a send fails and the message is dropped with it). What the tickets alive at
//! a moment add up to is the depth: messages sent and not yet handled, over every actor of the
//! kind. Two relaxed atomic operations per message, on a counter per kind.

use std::sync::atomic::{AtomicI64, Ordering};

/// One kind of actor's waiting messages.
#[derive(Debug)]
pub struct MailboxDepth {
    actor: &'static str,
    waiting: AtomicI64,
}

impl MailboxDepth {
    const fn new(actor: &'static str) -> Self {
        Self {
            actor,
            waiting: AtomicI64::new(0),
        }
    }

    /// The actor kind, as the metric's `actor` label.
    pub fn actor(&self) -> &'static str {
        self.actor
    }

    /// Messages sent to actors of this kind and not yet handled.
    pub fn waiting(&self) -> i64 {
        self.waiting.load(Ordering::Relaxed).max(0)
    }
}

/// Listing actors: reservations.
pub static INVENTORY: MailboxDepth = MailboxDepth::new("inventory");
/// Room actors: viewers joining and leaving, chat lines and likes.
pub static ROOM: MailboxDepth = MailboxDepth::new("room");

/// Every kind that is counted.
pub fn depths() -> [&'static MailboxDepth; 2] {
    [&INVENTORY, &ROOM]
}

/// A message's place in its actor kind's count, while it waits.
#[derive(Debug)]
pub struct Queued(&'static MailboxDepth);

impl Queued {
    pub fn on(depth: &'static MailboxDepth) -> Self {
        depth.waiting.fetch_add(1, Ordering::Relaxed);
        Queued(depth)
    }

    /// For a message to a listing's actor.
    pub fn inventory() -> Self {
        Self::on(&INVENTORY)
    }

    /// For a message to a room's actor.
    pub fn room() -> Self {
        Self::on(&ROOM)
    }
}

impl Drop for Queued {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static TEST: MailboxDepth = MailboxDepth::new("test");

    #[test]
    fn a_ticket_counts_while_it_lives() {
        let first = Queued::on(&TEST);
        let second = Queued::on(&TEST);
        assert_eq!(TEST.waiting(), 2);
        drop(first);
        assert_eq!(TEST.waiting(), 1);
        drop(second);
        assert_eq!(TEST.waiting(), 0);
    }
}
