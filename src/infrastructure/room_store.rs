//! The directory's `RoomStore`: rebuilds a room's actors from the rooms, catalog and orders tables.

use super::repos::Storage;
use futures_util::future::BoxFuture;
use livecart_actors::directory::{ListingSeed, LoadError, RoomSeed, RoomStore};
use livecart_actors::inventory::ListingTerms;
use livecart_actors::RoomId;

pub struct SqlRoomStore {
    storage: Storage,
}

impl SqlRoomStore {
    pub fn new(storage: Storage) -> Self {
        Self { storage }
    }
}

impl RoomStore for SqlRoomStore {
    fn load_room(&self, room_id: RoomId) -> BoxFuture<'static, Result<Option<RoomSeed>, LoadError>> {
        let storage = self.storage.clone();
        Box::pin(async move {
            let fail = |e: super::db::StorageError| LoadError(e.to_string());
            let Some(room) = storage.find_room(room_id).await.map_err(fail)? else {
                return Ok(None);
            };
            let mut listings = Vec::new();
            for listing in storage.listings_of_room(room_id).await.map_err(fail)? {
                let orders = storage.stored_orders_of_listing(listing.id).await.map_err(fail)?;
                listings.push(ListingSeed {
                    title: listing.title.clone(),
                    terms: ListingTerms {
                        listing_id: listing.id,
                        room_id,
                        price_cents: listing.price_cents,
                        per_user_limit: listing.per_user_limit,
                        starts_at: listing.starts_at,
                        ends_at: listing.ends_at,
                    },
                    total_stock: listing.stock_total,
                    orders,
                });
            }
            Ok(Some(RoomSeed {
                room_id,
                status: room.status,
                pinned_listing_id: room.pinned_listing_id,
                muted: storage.muted_users(room_id).await.map_err(fail)?,
                listings,
            }))
        })
    }
}
