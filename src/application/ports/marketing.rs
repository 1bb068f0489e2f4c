//! The marketing port: buyer-coupon campaigns, the coupons they issue (and revoke when the order
//! is cancelled), and the events already handled.

use super::{StoreError, StoreFuture, Window};
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use livecart_actors::{OrderId, RoomId, UserId};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct CampaignRecord {
    pub room_id: RoomId,
    pub amount_off_cents: i64,
    pub min_spend_cents: i64,
    pub valid_for_s: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct CouponRecord {
    pub id: Uuid,
    pub order_id: OrderId,
    pub user_id: UserId,
    pub room_id: RoomId,
    pub amount_off_cents: i64,
    pub min_spend_cents: i64,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    /// When the order that earned it was cancelled; a revoked coupon cannot be spent.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it was spent; a coupon is spent once.
    pub redeemed_at: Option<DateTime<Utc>>,
    /// The order whose payment it was spent on; `None` when the merchant redeemed it.
    pub redeemed_order_id: Option<OrderId>,
}

/// Why a coupon could not be spent.
#[derive(Debug, thiserror::Error)]
pub enum RedeemError {
    #[error("no such coupon")]
    NotFound,
    #[error("the coupon was already redeemed")]
    AlreadyRedeemed,
    #[error("the coupon has expired")]
    Expired,
    #[error("the coupon was revoked: the order that earned it was cancelled")]
    Revoked,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one event does to the coupons, decided by the consumer and applied by
/// [`MarketingRepo::handle_events_once`]. An event that does nothing to them (an order outside
/// any campaign, a cancellation of an order without a coupon) has no effect and is not recorded:
/// see `application::issue_coupon` for why a replay of it decides nothing again.
#[derive(Debug, Clone)]
pub enum CouponEffect {
    Issue(CouponRecord),
    /// The order was cancelled at `at`: its coupon, if it has one, is revoked.
    Revoke {
        order_id: OrderId,
        at: DateTime<Utc>,
    },
}

/// What a batch of events did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CouponChanges {
    pub issued: usize,
    pub revoked: usize,
}

pub trait MarketingRepo: Send + Sync + 'static {
    /// Starts the room's campaign, replacing the one it had.
    fn upsert_campaign(&self, campaign: CampaignRecord) -> StoreFuture<()>;
    /// Stops the room's campaign; `false` when it had none. Coupons already issued stay.
    fn delete_campaign(&self, room_id: RoomId) -> StoreFuture<bool>;
    fn find_campaign(&self, room_id: RoomId) -> StoreFuture<Option<CampaignRecord>>;
    /// The campaigns running in these rooms, by room.
    fn campaigns_of_rooms(&self, room_ids: Vec<RoomId>) -> StoreFuture<HashMap<RoomId, CampaignRecord>>;
    /// Records a batch of events as handled and applies the effects of those not handled before,
    /// in one transaction: a replayed event changes nothing.
    fn handle_events_once(&self, batch: Vec<(Uuid, CouponEffect)>) -> StoreFuture<CouponChanges>;
    /// Which of these orders have a coupon (revoked, spent or not): a read, no write.
    fn orders_with_coupons(&self, order_ids: Vec<OrderId>) -> StoreFuture<HashSet<OrderId>>;
    /// The buyer's coupons in the window, newest first.
    fn coupons_of_user(&self, user_id: UserId, window: Window) -> StoreFuture<Vec<CouponRecord>>;
    /// The room's coupons in the window, newest first, optionally only (un)redeemed ones.
    fn coupons_of_room(
        &self,
        room_id: RoomId,
        redeemed: Option<bool>,
        window: Window,
    ) -> StoreFuture<Vec<CouponRecord>>;
    fn find_coupon(&self, id: Uuid) -> StoreFuture<Option<CouponRecord>>;
    /// Spends the coupon once (`order_id`: on that order's payment); of concurrent redemptions
    /// exactly one succeeds.
    fn redeem_coupon(
        &self,
        id: Uuid,
        order_id: Option<OrderId>,
        at: DateTime<Utc>,
    ) -> BoxFuture<'static, Result<(), RedeemError>>;
    /// Gives back the coupon spent on the order's payment (the payment failed).
    fn release_coupon_of_order(&self, order_id: OrderId) -> StoreFuture<()>;
}
