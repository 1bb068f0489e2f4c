//! The directory's `RoomStore`: rebuilds a room's actors from the rooms, catalog and orders
//! tables, in a fixed number of queries per room (no query per listing, no order history).

use super::db::StorageError;
use super::repos::Storage;
use crate::application::ports::catalog::ListingRecord;
use crate::application::ports::stream::StreamSigner;
use futures_util::future::BoxFuture;
use livecart_actors::directory::{ListingSeed, LoadError, RoomSeed, RoomStore};
use livecart_actors::inventory::{ListingTerms, StoredHoldings};
use livecart_actors::session::frames::RoomPlayback;
use livecart_actors::{ListingId, RoomId};
use std::sync::Arc;

pub struct SqlRoomStore {
    storage: Storage,
    /// Makes the play URLs the welcome carries.
    signer: Arc<dyn StreamSigner>,
}

impl SqlRoomStore {
    pub fn new(storage: Storage, signer: Arc<dyn StreamSigner>) -> Self {
        Self { storage, signer }
    }
}

fn fail(e: StorageError) -> LoadError {
    LoadError(e.to_string())
}

fn seed(listing: ListingRecord, holdings: StoredHoldings) -> ListingSeed {
    ListingSeed {
        terms: ListingTerms {
            listing_id: listing.id,
            room_id: listing.room_id,
            price_cents: listing.price_cents,
            per_user_limit: listing.per_user_limit,
            starts_at: listing.starts_at,
            ends_at: listing.ends_at,
        },
        title: listing.title,
        total_stock: listing.stock_total,
        holdings,
    }
}

impl RoomStore for SqlRoomStore {
    fn load_room(&self, room_id: RoomId) -> BoxFuture<'static, Result<Option<RoomSeed>, LoadError>> {
        let storage = self.storage.clone();
        let signer = self.signer.clone();
        Box::pin(async move {
            let Some(room) = storage.find_room(room_id).await.map_err(fail)? else {
                return Ok(None);
            };
            let play = signer.play(&room.stream_key);
            let listings = storage.listings_of_room(room_id).await.map_err(fail)?;
            let ids = listings.iter().map(|l| l.id).collect();
            let mut holdings = storage.holdings_of_listings(ids).await.map_err(fail)?;
            let listings = listings
                .into_iter()
                .map(|l| {
                    let held = holdings.remove(&l.id).unwrap_or_default();
                    seed(l, held)
                })
                .collect();
            Ok(Some(RoomSeed {
                room_id,
                title: room.title.clone(),
                playback: RoomPlayback {
                    hls: play.hls,
                    flv: play.flv,
                },
                status: room.status,
                pinned_listing_id: room.pinned_listing_id,
                muted: storage.muted_users(room_id).await.map_err(fail)?,
                listings,
            }))
        })
    }

    fn load_listing(
        &self,
        room_id: RoomId,
        listing_id: ListingId,
    ) -> BoxFuture<'static, Result<Option<ListingSeed>, LoadError>> {
        let storage = self.storage.clone();
        Box::pin(async move {
            let Some(listing) = storage.find_listing(listing_id).await.map_err(fail)? else {
                return Ok(None);
            };
            if listing.room_id != room_id {
                return Ok(None);
            }
            let mut holdings = storage.holdings_of_listings(vec![listing_id]).await.map_err(fail)?;
            let held = holdings.remove(&listing_id).unwrap_or_default();
            Ok(Some(seed(listing, held)))
        })
    }
}
