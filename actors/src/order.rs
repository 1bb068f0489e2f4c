//! The order as the domain sees it: a reservation of units of one listing by one buyer.

use crate::ids::{ListingId, OrderId, RoomId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where an order stands. `Reserved` holds stock until `expires_at`; every other status is final
/// except `Paid`, which can still be refunded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Reserved,
    Paid,
    Cancelled,
    Expired,
    Refunded,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Reserved => "reserved",
            OrderStatus::Paid => "paid",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Expired => "expired",
            OrderStatus::Refunded => "refunded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "reserved" => OrderStatus::Reserved,
            "paid" => OrderStatus::Paid,
            "cancelled" => OrderStatus::Cancelled,
            "expired" => OrderStatus::Expired,
            "refunded" => OrderStatus::Refunded,
            _ => return None,
        })
    }

    /// Whether the order still holds stock (and counts toward the buyer's limit).
    pub fn holds_stock(self) -> bool {
        matches!(self, OrderStatus::Reserved | OrderStatus::Paid)
    }
}

/// One order, exactly as it is journaled and served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    pub room_id: RoomId,
    pub listing_id: ListingId,
    pub user_id: UserId,
    pub quantity: u32,
    pub unit_price_cents: i64,
    pub total_cents: i64,
    pub status: OrderStatus,
    /// The buyer's `Idempotency-Key`, unique per buyer across all listings.
    pub idempotency_key: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}
