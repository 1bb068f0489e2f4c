//! Domain events: what happened, reported through the transactional outbox.
//!
//! Each event commits in the same transaction as the change it reports, then a relay publishes it.
//! Consumers dedupe by `id`, so a replayed event changes nothing.

use crate::ids::{new_id, ListingId, OrderId, RoomId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use uuid::Uuid;

/// An event with its identity and time; `payload` is what consumers read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainEvent {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub payload: EventPayload,
}

impl DomainEvent {
    pub fn new(at: DateTime<Utc>, payload: EventPayload) -> Self {
        Self {
            id: new_id(),
            at,
            payload,
        }
    }

    /// The event's name on the bus, as the design names them (`order.created`, …).
    pub fn kind(&self) -> &'static str {
        self.payload.kind()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventPayload {
    OrderCreated {
        order_id: OrderId,
        room_id: RoomId,
        listing_id: ListingId,
        user_id: UserId,
        quantity: u32,
        total_cents: i64,
    },
    OrderCancelled {
        order_id: OrderId,
        room_id: RoomId,
        listing_id: ListingId,
        user_id: UserId,
        quantity: u32,
    },
    /// An unpaid reservation reached its deadline; its units are sellable again.
    OrderExpired {
        order_id: OrderId,
        room_id: RoomId,
        listing_id: ListingId,
        user_id: UserId,
        quantity: u32,
    },
    /// The provider confirmed the payment; `late` when the order had expired or been cancelled
    /// and was reserved again for it.
    OrderPaid {
        order_id: OrderId,
        room_id: RoomId,
        listing_id: ListingId,
        user_id: UserId,
        payment_id: Uuid,
        late: bool,
    },
    /// A payment landed after the order's units were gone: the money goes back.
    OrderRefunded {
        order_id: OrderId,
        room_id: RoomId,
        listing_id: ListingId,
        user_id: UserId,
        payment_id: Uuid,
    },
    StockAdded {
        room_id: RoomId,
        listing_id: ListingId,
        added: u32,
    },
    LiveStarted {
        room_id: RoomId,
    },
    LiveEnded {
        room_id: RoomId,
    },
}

impl EventPayload {
    pub fn kind(&self) -> &'static str {
        match self {
            EventPayload::OrderCreated { .. } => "order.created",
            EventPayload::OrderCancelled { .. } => "order.cancelled",
            EventPayload::OrderExpired { .. } => "order.expired",
            EventPayload::OrderPaid { .. } => "order.paid",
            EventPayload::OrderRefunded { .. } => "order.refunded",
            EventPayload::StockAdded { .. } => "inventory.stock_added",
            EventPayload::LiveStarted { .. } => "live.started",
            EventPayload::LiveEnded { .. } => "live.ended",
        }
    }

    /// The listing the event is about, if any: the journal counts each listing's entries by it.
    pub fn listing_id(&self) -> Option<ListingId> {
        match self {
            EventPayload::OrderCreated { listing_id, .. }
            | EventPayload::OrderCancelled { listing_id, .. }
            | EventPayload::OrderExpired { listing_id, .. }
            | EventPayload::OrderPaid { listing_id, .. }
            | EventPayload::OrderRefunded { listing_id, .. }
            | EventPayload::StockAdded { listing_id, .. } => Some(*listing_id),
            EventPayload::LiveStarted { .. } | EventPayload::LiveEnded { .. } => None,
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("event handler failed: {0}")]
pub struct HandlerError(pub String);

/// A consumer of published events. Delivery is at least once, so a handler dedupes by event id.
/// Events come in batches, in commit order, so a consumer keeps up with a flash sale by doing
/// its storage work once per batch rather than once per event.
pub trait EventHandler: Send + Sync + 'static {
    fn handle(&self, events: Arc<[DomainEvent]>) -> futures_util::future::BoxFuture<'static, Result<(), HandlerError>>;
}
