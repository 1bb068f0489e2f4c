//! The catalog port: listings placed into rooms, with their terms and total stock.

use super::StoreFuture;
use chrono::{DateTime, Utc};
use livecart_actors::{ListingId, RoomId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingRecord {
    pub id: ListingId,
    pub room_id: RoomId,
    pub title: String,
    pub price_cents: i64,
    /// Every unit ever made sellable: the initial stock plus restocks.
    pub stock_total: u64,
    pub per_user_limit: u32,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

pub trait ListingRepo: Send + Sync + 'static {
    fn insert_listing(&self, listing: ListingRecord) -> StoreFuture<()>;
    fn find_listing(&self, id: ListingId) -> StoreFuture<Option<ListingRecord>>;
    /// The room's listings in the order they were placed.
    fn listings_of_room(&self, room_id: RoomId) -> StoreFuture<Vec<ListingRecord>>;
    /// Writes the listing's terms, title and total stock (its ids and creation time stay).
    fn update_listing(&self, listing: ListingRecord) -> StoreFuture<()>;
    /// Ends the listing's sale at `at`, unless its window ended earlier.
    fn close_listing(&self, id: ListingId, at: DateTime<Utc>) -> StoreFuture<()>;
    fn delete_listing(&self, id: ListingId) -> StoreFuture<()>;
}
