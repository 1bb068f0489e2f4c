//! Identifiers. Every id is a UUID (the contract's wire form); aliases keep signatures readable.

use uuid::Uuid;

pub type UserId = Uuid;
pub type RoomId = Uuid;
pub type ListingId = Uuid;
pub type OrderId = Uuid;

/// A new time-ordered id: v7 keeps index inserts append-mostly on the hot order path.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}
