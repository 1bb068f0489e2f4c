//! The live port: rooms, their lifecycle, pinned listing and chat mutes.

use super::{StoreFuture, Window};
use chrono::{DateTime, Utc};
use livecart_actors::events::DomainEvent;
use livecart_actors::room::RoomStatus;
use livecart_actors::{ListingId, RoomId, UserId};

#[derive(Debug, Clone)]
pub struct RoomRecord {
    pub id: RoomId,
    pub merchant_id: UserId,
    pub title: String,
    pub status: RoomStatus,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub stream_key: String,
    pub pinned_listing_id: Option<ListingId>,
    pub created_at: DateTime<Utc>,
}

pub trait RoomRepo: Send + Sync + 'static {
    fn insert_room(&self, room: RoomRecord) -> StoreFuture<()>;
    fn find_room(&self, id: RoomId) -> StoreFuture<Option<RoomRecord>>;
    /// The merchant's rooms in the window, newest first.
    fn rooms_of_merchant(&self, merchant_id: UserId, window: Window) -> StoreFuture<Vec<RoomRecord>>;
    /// Moves the room to `to` only from `from`, with its event, in one transaction. `false` when
    /// the room was not in `from` (another call moved it first).
    fn transition_room(&self, id: RoomId, from: RoomStatus, to: RoomStatus, event: DomainEvent) -> StoreFuture<bool>;
    /// Pins the listing, or unpins with `None`.
    fn set_pinned_listing(&self, id: RoomId, listing_id: Option<ListingId>) -> StoreFuture<()>;
    /// Mutes or unmutes a user in a room's chat; repeating either is harmless.
    fn set_muted(&self, room_id: RoomId, user_id: UserId, muted: bool) -> StoreFuture<()>;
}
