//! The SQL store as the application's ports: each port method forwards to the repository method
//! of the same name, and storage failures become the application's [`StoreError`].

use super::Storage;
use crate::application::ports::catalog::{ListingRecord, ListingRepo};
use crate::application::ports::health::Ping;
use crate::application::ports::identity::{InsertUserError, UserRecord, UserRepo};
use crate::application::ports::live::{RoomRecord, RoomRepo};
use crate::application::ports::marketing::{
    CampaignRecord, CouponChanges, CouponEffect, CouponRecord, MarketingRepo, RedeemError,
};
use crate::application::ports::orders::OrderRepo;
use crate::application::ports::payments::{PaymentRecord, PaymentRepo, PaymentState};
use crate::application::ports::{StoreError, StoreFuture, Window};
use crate::infrastructure::db::StorageError;
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use livecart_actors::events::DomainEvent;
use livecart_actors::inventory::StoredHoldings;
use livecart_actors::order::{Order, OrderStatus};
use livecart_actors::room::RoomStatus;
use livecart_actors::{ListingId, OrderId, RoomId, UserId};
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use uuid::Uuid;

impl From<StorageError> for StoreError {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::Corrupt(what) => StoreError::Corrupt(what),
            other => StoreError::Unavailable(other.to_string()),
        }
    }
}

impl From<diesel::result::Error> for RedeemError {
    fn from(err: diesel::result::Error) -> Self {
        RedeemError::Store(StorageError::from(err).into())
    }
}

/// Port methods that call the repository method of the same name on a clone of the store (a
/// pool handle), so the future owns everything it touches.
macro_rules! forward {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {$(
        fn $name(&self, $($arg: $ty),*) -> StoreFuture<$ret> {
            let storage = self.clone();
            // Inherent methods win over the trait's: this calls the repository's.
            Box::pin(async move { Ok(Storage::$name(&storage, $($arg),*).await?) })
        }
    )*};
}

impl ListingRepo for Storage {
    forward! {
        insert_listing(listing: ListingRecord) -> ();
        find_listing(id: ListingId) -> Option<ListingRecord>;
        listings_of_room(room_id: RoomId) -> Vec<ListingRecord>;
        update_listing(listing: ListingRecord) -> ();
        close_listing(id: ListingId, at: DateTime<Utc>) -> ();
        delete_listing(id: ListingId) -> ();
    }
}

impl UserRepo for Storage {
    fn insert_user(&self, user: UserRecord) -> BoxFuture<'static, Result<(), InsertUserError>> {
        let storage = self.clone();
        Box::pin(async move { Storage::insert_user(&storage, user).await })
    }

    forward! {
        find_user(id: UserId) -> Option<UserRecord>;
        find_user_by_username(username: String) -> Option<UserRecord>;
    }
}

impl RoomRepo for Storage {
    forward! {
        insert_room(room: RoomRecord) -> ();
        find_room(id: RoomId) -> Option<RoomRecord>;
        rooms_of_merchant(merchant_id: UserId, window: Window) -> Vec<RoomRecord>;
        transition_room(id: RoomId, from: RoomStatus, to: RoomStatus, event: DomainEvent) -> bool;
        set_pinned_listing(id: RoomId, listing_id: Option<ListingId>) -> ();
        set_muted(room_id: RoomId, user_id: UserId, muted: bool) -> ();
    }
}

impl OrderRepo for Storage {
    forward! {
        find_order(id: OrderId) -> Option<Order>;
        orders_of_user(user_id: UserId, window: Window) -> Vec<Order>;
        holdings_of_listings(listing_ids: Vec<ListingId>) -> HashMap<ListingId, StoredHoldings>;
        rooms_with_reservations() -> Vec<RoomId>;
        orders_of_listings(listing_ids: Vec<ListingId>, status: Option<OrderStatus>, window: Window) -> Vec<Order>;
        order_by_key(user_id: UserId, key: String) -> Option<Order>;
        listing_has_orders(listing_id: ListingId) -> bool;
    }
}

impl MarketingRepo for Storage {
    forward! {
        upsert_campaign(campaign: CampaignRecord) -> ();
        delete_campaign(room_id: RoomId) -> bool;
        find_campaign(room_id: RoomId) -> Option<CampaignRecord>;
        campaigns_of_rooms(room_ids: Vec<RoomId>) -> HashMap<RoomId, CampaignRecord>;
        handle_events_once(batch: Vec<(Uuid, CouponEffect)>) -> CouponChanges;
        orders_with_coupons(order_ids: Vec<OrderId>) -> HashSet<OrderId>;
        coupons_of_user(user_id: UserId, window: Window) -> Vec<CouponRecord>;
        coupons_of_room(room_id: RoomId, redeemed: Option<bool>, window: Window) -> Vec<CouponRecord>;
        find_coupon(id: Uuid) -> Option<CouponRecord>;
        release_coupon_of_order(order_id: OrderId) -> ();
    }

    fn redeem_coupon(
        &self,
        id: Uuid,
        order_id: Option<OrderId>,
        at: DateTime<Utc>,
    ) -> BoxFuture<'static, Result<(), RedeemError>> {
        let storage = self.clone();
        Box::pin(async move { Storage::redeem_coupon(&storage, id, order_id, at).await })
    }
}

impl PaymentRepo for Storage {
    forward! {
        insert_payment(payment: PaymentRecord) -> Option<PaymentRecord>;
        find_payment(id: Uuid) -> Option<PaymentRecord>;
        pending_payment_of_order(order_id: OrderId) -> Option<PaymentRecord>;
        settle_payment(id: Uuid, state: PaymentState, at: DateTime<Utc>) -> bool;
    }

    fn insert_payment_redeeming(
        &self,
        payment: PaymentRecord,
        coupon_id: Uuid,
    ) -> BoxFuture<'static, Result<Option<PaymentRecord>, RedeemError>> {
        let storage = self.clone();
        Box::pin(async move { Storage::insert_payment_redeeming(&storage, payment, coupon_id).await })
    }
}

impl Ping for Storage {
    fn ping(&self, within: Duration) -> BoxFuture<'static, bool> {
        let storage = self.clone();
        Box::pin(async move { tokio::time::timeout(within, storage.ping()).await.unwrap_or(false) })
    }
}
