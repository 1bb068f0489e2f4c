//! The port through which a session buys: the same use case as HTTP orders, owned by the
//! application layer, so a `buy` frame and `POST /orders` can never disagree.

use super::frames::{FrameError, Quantity};
use crate::identity::Role;
use crate::ids::{ListingId, RoomId, UserId};
use crate::order::Order;
use futures_util::future::BoxFuture;

#[derive(Debug, Clone)]
pub struct BuyRequest {
    /// The frame's `request_id`, which is also the order's idempotency key: a buy resent after a
    /// reconnect answers with the order the first one made.
    pub request_id: String,
    pub user_id: UserId,
    pub role: Role,
    pub room_id: RoomId,
    pub listing_id: ListingId,
    pub quantity: Quantity,
}

pub trait OrderDesk: Send + Sync + 'static {
    /// The order placed (or the one the same `request_id` placed before), or the contract's error.
    fn buy(&self, request: BuyRequest) -> BoxFuture<'static, Result<Order, FrameError>>;
}
