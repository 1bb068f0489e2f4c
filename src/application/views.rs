//! What the use cases answer with, shaped as the contract's JSON. Every time is written by
//! `livecart_actors::timestamp`: RFC 3339 UTC with milliseconds and `Z`.

use chrono::{DateTime, Utc};
use livecart_actors::order::Order;
use livecart_actors::timestamp;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StreamView {
    /// What the encoder (OBS) calls the stream key: name plus signature.
    pub stream_key: String,
    /// Signed RTMP push URL; expires.
    pub push_url: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlayView {
    pub hls: String,
    pub flv: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoomView {
    pub id: Uuid,
    pub title: String,
    /// `scheduled`, `live` or `ended`.
    pub status: String,
    pub merchant_id: Uuid,
    #[serde(serialize_with = "timestamp::optional_millis")]
    pub scheduled_at: Option<DateTime<Utc>>,
    /// Only for the room's merchant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamView>,
    pub play: PlayView,
    pub viewer_count: u64,
    pub like_count: u64,
    pub pinned_listing_id: Option<Uuid>,
    #[serde(serialize_with = "timestamp::millis")]
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ListingView {
    pub id: Uuid,
    pub room_id: Uuid,
    pub title: String,
    pub price_cents: i64,
    /// Every unit made sellable: the initial stock plus restocks.
    pub stock: u64,
    /// Units still available now.
    pub stock_left: u64,
    pub per_user_limit: u32,
    #[serde(serialize_with = "timestamp::optional_millis")]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "timestamp::optional_millis")]
    pub ends_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderView {
    pub id: Uuid,
    pub room_id: Uuid,
    pub listing_id: Uuid,
    pub user_id: Uuid,
    pub quantity: u32,
    pub unit_price_cents: i64,
    pub total_cents: i64,
    /// `reserved`, `paid`, `cancelled`, `expired` or `refunded`.
    pub status: String,
    #[serde(serialize_with = "timestamp::millis")]
    pub expires_at: DateTime<Utc>,
    #[serde(serialize_with = "timestamp::millis")]
    pub created_at: DateTime<Utc>,
}

impl From<Order> for OrderView {
    fn from(o: Order) -> Self {
        Self {
            id: o.id,
            room_id: o.room_id,
            listing_id: o.listing_id,
            user_id: o.user_id,
            quantity: o.quantity,
            unit_price_cents: o.unit_price_cents,
            total_cents: o.total_cents,
            status: o.status.as_str().to_owned(),
            expires_at: o.expires_at,
            created_at: o.created_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CampaignView {
    pub room_id: Uuid,
    pub amount_off_cents: i64,
    pub min_spend_cents: i64,
    pub valid_for_s: i64,
    #[serde(serialize_with = "timestamp::millis")]
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CouponView {
    pub id: Uuid,
    pub order_id: Uuid,
    pub room_id: Uuid,
    pub amount_off_cents: i64,
    pub min_spend_cents: i64,
    #[serde(serialize_with = "timestamp::millis")]
    pub expires_at: DateTime<Utc>,
    /// `active`; `redeemed` once spent; `revoked` once the order that earned it was cancelled.
    #[schema(example = "active")]
    pub status: CouponStatus,
    /// When it was revoked; `null` while active (always present).
    #[schema(required = true)]
    #[serde(serialize_with = "timestamp::optional_millis")]
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it was spent; `null` until then (always present).
    #[schema(required = true)]
    #[serde(serialize_with = "timestamp::optional_millis")]
    pub redeemed_at: Option<DateTime<Utc>>,
    /// The order whose payment it was spent on; `null` when unspent or redeemed by the merchant.
    #[schema(required = true)]
    pub redeemed_order_id: Option<Uuid>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CouponStatus {
    Active,
    Redeemed,
    Revoked,
}

/// A payment of an order, as `POST /v1/orders/{id}/pay` answers it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentView {
    pub payment_id: Uuid,
    pub order_id: Uuid,
    pub amount_cents: i64,
    /// Which provider takes the payment (`sandbox` by default).
    pub provider: String,
    /// `pending` until the provider's webhook; then `succeeded`, `failed` or `refunded`.
    pub state: String,
}

/// A page of the merchant's rooms; follow `next` (as `cursor`) until it is absent.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoomPage {
    pub items: Vec<RoomView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// A page of a room's orders; follow `next` (as `cursor`) until it is absent.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderPage {
    pub items: Vec<OrderView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// A page of the caller's coupons; follow `next` (as `cursor`) until it is absent.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CouponPage {
    pub items: Vec<CouponView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// `GET /v1/orders`: the whole list, as the contract has it, or a page when `limit` or `cursor`
/// was given.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum OrderList {
    All(Vec<OrderView>),
    Page(OrderPage),
}

/// `GET /v1/coupons`: the whole list, as the contract has it, or a page when `limit` or
/// `cursor` was given.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum CouponList {
    All(Vec<CouponView>),
    Page(CouponPage),
}
