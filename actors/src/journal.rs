//! The journal port: where the inventory actor makes its decisions durable.
//!
//! An actor decides in memory, appends an entry, and answers its caller only when the returned
//! ack resolves, that is when the batch holding the entry has committed. The adapter batches
//! entries from every actor into one transaction (group commit), so the hot path pays for a
//! commit per batch, not per order.
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
use futures_util::future::BoxFuture;

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

/// Resolves when the entry's batch has committed, or failed.
pub type JournalAck = BoxFuture<'static, Result<(), JournalError>>;

pub trait Journal: Send + Sync + 'static {
    /// Queues the entry for the next batch. `fence` is the room and epoch the actor owns it
    /// under: the entry is written only if that epoch is still the room's.
    fn append(&self, fence: Fence, entry: JournalEntry) -> JournalAck;
}
