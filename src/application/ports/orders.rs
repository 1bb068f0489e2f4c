//! The orders port: orders as the journal committed them, read back.

use super::{StoreFuture, Window};
use livecart_actors::inventory::StoredHoldings;
use livecart_actors::order::{Order, OrderStatus};
use livecart_actors::{ListingId, OrderId, RoomId, UserId};
use std::collections::HashMap;

pub trait OrderRepo: Send + Sync + 'static {
    fn find_order(&self, id: OrderId) -> StoreFuture<Option<Order>>;
    /// The buyer's orders in the window, newest first.
    fn orders_of_user(&self, user_id: UserId, window: Window) -> StoreFuture<Vec<Order>>;
    /// Per listing, the units of paid orders summed per buyer, and each order still reserved.
    fn holdings_of_listings(&self, listing_ids: Vec<ListingId>) -> StoreFuture<HashMap<ListingId, StoredHoldings>>;
    /// Rooms with reservations still holding stock.
    fn rooms_with_reservations(&self) -> StoreFuture<Vec<RoomId>>;
    /// Orders of these listings in the window, newest first, optionally of one status.
    fn orders_of_listings(
        &self,
        listing_ids: Vec<ListingId>,
        status: Option<OrderStatus>,
        window: Window,
    ) -> StoreFuture<Vec<Order>>;
    /// Whether any order of the listing was ever stored, whatever became of it.
    fn listing_has_orders(&self, listing_id: ListingId) -> StoreFuture<bool>;
    /// The buyer's order made with this idempotency key, if any.
    fn order_by_key(&self, user_id: UserId, key: String) -> StoreFuture<Option<Order>>;
}
