//! The journal port: where the inventory actor makes its decisions durable.
//!
//! An actor decides in memory, appends an entry, and answers its caller only when the entry's
//! batch has committed. The adapter batches entries from every actor into one transaction
//! (group commit), so the hot path pays for a commit per batch, not per order, and it
//! acknowledges per batch too: `append` only queues the entry, and once a batch's outcome is
//! known for certain the adapter tells each actor that had entries in it, once, the outcomes of
//! its entries in the order it appended them (a [`CommitListener`]). So an order costs no
//! future, channel or allocation of its own on the way to its acknowledgement.
//!
//! Each listing has a journal position: the number of its entries ever committed, advanced by
//! the adapter in the same transaction as the entries. An actor knows its own position (the one
//! it started from plus the entries it saw commit), so a snapshot stamped with it can be checked
//! against storage: equal positions mean the snapshot holds every committed change.

use crate::events::DomainEvent;
use crate::ids::{ListingId, OrderId};
use crate::lease::Fence;
use crate::order::Order;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Arc;

/// One durable change, with the events it reports (they commit together).
#[derive(Debug, Clone)]
pub enum JournalEntry {
    /// A new reservation: the order row, its idempotency key and `order.created`.
    OrderPlaced { order: Order, event: DomainEvent },
    /// A reservation given up by its buyer; its stock returns once this commits.
    OrderCancelled {
        order_id: OrderId,
        at: DateTime<Utc>,
        event: DomainEvent,
    },
    /// An unpaid reservation past its deadline; its stock returns once this commits.
    OrderExpired {
        order_id: OrderId,
        at: DateTime<Utc>,
        event: DomainEvent,
    },
    /// A confirmed payment: the order becomes paid (from reserved, or, when `late`, from expired
    /// or cancelled, reserved again), and the payment succeeded.
    OrderPaid {
        order_id: OrderId,
        payment_id: uuid::Uuid,
        late: bool,
        at: DateTime<Utc>,
        event: DomainEvent,
    },
    /// A payment that came too late for any stock: the order ends refunded, the payment too.
    OrderRefunded {
        order_id: OrderId,
        payment_id: uuid::Uuid,
        at: DateTime<Utc>,
        event: DomainEvent,
    },
    /// A restock; the new units are sellable once this commits.
    StockAdded {
        listing_id: ListingId,
        added: u32,
        event: DomainEvent,
    },
}

impl JournalEntry {
    /// The event the entry reports; it commits with the entry.
    pub fn event(&self) -> &DomainEvent {
        match self {
            JournalEntry::OrderPlaced { event, .. }
            | JournalEntry::OrderCancelled { event, .. }
            | JournalEntry::OrderExpired { event, .. }
            | JournalEntry::OrderPaid { event, .. }
            | JournalEntry::OrderRefunded { event, .. }
            | JournalEntry::StockAdded { event, .. } => event,
        }
    }

    /// The listing whose journal position the entry advances: every entry is one listing's.
    pub fn listing_id(&self) -> Option<ListingId> {
        match self {
            JournalEntry::OrderPlaced { order, .. } => Some(order.listing_id),
            JournalEntry::StockAdded { listing_id, .. } => Some(*listing_id),
            other => other.event().payload.listing_id(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    /// Storage refused or failed the batch; nothing in it is durable.
    #[error("the journal could not commit: {0}")]
    Unavailable(String),
    /// The buyer's idempotency key is already used by another order (on another listing).
    #[error("the idempotency key is already used by another order")]
    KeyConflict,
    /// A newer owner holds the room: this actor is stale and its entry was not written.
    #[error("another owner holds the room now")]
    Fenced,
    /// The journal is too far behind to take more; nothing was written.
    #[error("the journal is full")]
    Overloaded,
}

/// What became of one entry, known for certain: `Ok` once durable.
pub type Outcome = Result<(), JournalError>;

/// Told the outcomes of an actor's entries, one call per batch that held any of them.
///
/// `outcomes` are those of the entries the listener's actor appended, in the order it appended
/// them, and every entry appended successfully gets exactly one outcome, in exactly one call; calls
/// come in batch order. So the actor matches outcomes to its entries by position alone. An
/// adapter may call it from any thread, also from inside `append` (the listener only queues the
/// outcomes for its actor; it never runs the actor's code in the call).
pub trait CommitListener: Send + Sync + 'static {
    fn committed(&self, outcomes: Vec<Outcome>);
}

/// How an actor is reached by the journal: one per actor, shared with every entry it appends
/// (a reference count, no allocation per entry).
pub type Listener = Arc<dyn CommitListener>;

pub trait Journal: Send + Sync + 'static {
    /// Queues the entry for the next batch, and returns at once. `fence` is the room and epoch
    /// the actor owns it under: the entry is written only if that epoch is still the room's.
    /// Its outcome goes to `listener` once its batch has committed, or failed (see
    /// [`CommitListener`]). An `Err` here means the entry was not queued (the queue is full, or
    /// the journal has stopped): nothing was written and no outcome will come for it.
    fn append(&self, fence: Fence, entry: JournalEntry, listener: &Listener) -> Result<(), JournalError>;
}

/// Tells each listener of one batch the outcomes of its entries, in one call each and in the
/// order its entries came: `listeners[i]` appended the entry whose outcome is `outcomes[i]`.
/// Every adapter ends a batch here, so the grouping the actors rely on is written once. An
/// entry left without an outcome (`outcomes` too short: an adapter bug) is answered as not
/// written rather than left waiting forever.
pub fn tell_listeners(listeners: Vec<Listener>, outcomes: Vec<Outcome>) {
    let mut outcomes = outcomes.into_iter();
    let mut groups: Vec<(Listener, Vec<Outcome>)> = Vec::new();
    // By the listener's address; most batches hold a few listeners, each with a run of entries.
    let mut index: HashMap<usize, usize> = HashMap::new();
    for listener in listeners {
        let outcome = outcomes
            .next()
            .unwrap_or_else(|| Err(JournalError::Unavailable("the journal lost the entry's outcome".into())));
        let key = address(&listener);
        let at = match groups.last() {
            Some((last, _)) if address(last) == key => groups.len() - 1,
            _ => match index.get(&key) {
                Some(&at) => at,
                None => {
                    index.insert(key, groups.len());
                    groups.push((listener, Vec::new()));
                    groups.len() - 1
                }
            },
        };
        groups[at].1.push(outcome);
    }
    for (listener, outcomes) in groups {
        listener.committed(outcomes);
    }
}

/// Which listener this is: its address (not the fat pointer, whose vtable part may differ for
/// the same listener).
fn address(listener: &Listener) -> usize {
    Arc::as_ptr(listener) as *const () as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Records every call it gets.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<Vec<Outcome>>>);

    impl CommitListener for Recorder {
        fn committed(&self, outcomes: Vec<Outcome>) {
            self.0.lock().expect("recorder lock").push(outcomes);
        }
    }

    fn calls(recorder: &Recorder) -> Vec<Vec<Outcome>> {
        recorder.0.lock().expect("recorder lock").clone()
    }

    #[test]
    fn each_listener_is_told_once_with_its_outcomes_in_append_order() {
        let (a, b) = (Arc::new(Recorder::default()), Arc::new(Recorder::default()));
        let (la, lb): (Listener, Listener) = (a.clone(), b.clone());
        let listeners = vec![la.clone(), lb.clone(), la.clone(), la, lb];
        let outcomes = vec![
            Ok(()),
            Err(JournalError::Fenced),
            Err(JournalError::KeyConflict),
            Ok(()),
            Ok(()),
        ];
        tell_listeners(listeners, outcomes);
        assert_eq!(calls(&a), vec![vec![Ok(()), Err(JournalError::KeyConflict), Ok(())]]);
        assert_eq!(calls(&b), vec![vec![Err(JournalError::Fenced), Ok(())]]);
    }

    #[test]
    fn an_entry_left_without_an_outcome_is_answered_as_not_written() {
        let a = Arc::new(Recorder::default());
        let la: Listener = a.clone();
        tell_listeners(vec![la.clone(), la], vec![Ok(())]);
        let told = calls(&a);
        assert_eq!(told.len(), 1);
        assert_eq!(told[0][0], Ok(()));
        assert!(matches!(told[0][1], Err(JournalError::Unavailable(_))));
    }
}
