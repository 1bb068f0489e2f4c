//! The directory's `RoomStore`: rebuilds a room's actors from the rooms, catalog and orders
//! tables, in a fixed number of queries per room (no query per listing, no order history).
//!
//! A listing whose snapshot is at its journal position starts from the snapshot and reads none
//! of its orders; any other listing (no snapshot, or one behind what the journal committed) is
//! rebuilt from its orders, so a lost or stale snapshot costs time, never correctness.

use super::db::StorageError;
use super::repos::Storage;
use crate::application::ports::catalog::ListingRecord;
use crate::application::ports::stream::StreamSigner;
use futures_util::future::BoxFuture;
use livecart_actors::directory::{ListingSeed, LoadError, RoomSeed, RoomStore};
use livecart_actors::inventory::{ListingTerms, StoredHoldings};
use livecart_actors::session::frames::RoomPlayback;
use livecart_actors::snapshot::{ListingSnapshot, SnapshotStore};
use livecart_actors::{ListingId, RoomId};
use std::collections::HashMap;
use std::sync::Arc;

pub struct SqlRoomStore {
    storage: Storage,
    /// Makes the play URLs the welcome carries.
    signer: Arc<dyn StreamSigner>,
    snapshots: Arc<dyn SnapshotStore>,
}

impl SqlRoomStore {
    pub fn new(storage: Storage, signer: Arc<dyn StreamSigner>, snapshots: Arc<dyn SnapshotStore>) -> Self {
        Self {
            storage,
            signer,
            snapshots,
        }
    }
}

/// The seeds of these listings: from their snapshots where those are current, else from their
/// orders (one query for all of those).
async fn listing_seeds(
    storage: &Storage,
    snapshots: &dyn SnapshotStore,
    listings: Vec<ListingRecord>,
) -> Result<Vec<ListingSeed>, LoadError> {
    let ids: Vec<ListingId> = listings.iter().map(|l| l.id).collect();
    let positions = storage.journal_positions(ids.clone()).await.map_err(fail)?;
    let kept = snapshots.load_listings(ids).await.unwrap_or_else(|err| {
        tracing::warn!(error = %err, "listing snapshots unreadable; rebuilding from orders");
        HashMap::new()
    });
    let mut current: HashMap<ListingId, ListingSnapshot> = kept
        .into_iter()
        .filter(|(id, snapshot)| positions.get(id) == Some(&snapshot.position))
        .collect();
    let behind: Vec<ListingId> = listings
        .iter()
        .map(|l| l.id)
        .filter(|id| !current.contains_key(id))
        .collect();
    let mut rebuilt = if behind.is_empty() {
        HashMap::new()
    } else {
        storage.holdings_of_listings(behind.clone()).await.map_err(fail)?
    };
    let rows: usize = rebuilt.values().map(|h| h.settled.len() + h.reserved.len()).sum();
    metrics::counter!("livecart_listing_loads_total", "from" => "snapshot").increment(current.len() as u64);
    metrics::counter!("livecart_listing_loads_total", "from" => "orders").increment(behind.len() as u64);
    metrics::counter!("livecart_listing_load_order_rows_total").increment(rows as u64);
    Ok(listings
        .into_iter()
        .map(|listing| {
            let position = positions.get(&listing.id).copied().unwrap_or(0);
            match current.remove(&listing.id) {
                Some(snapshot) => seed(listing, snapshot.holdings, position, true),
                None => {
                    let held = rebuilt.remove(&listing.id).unwrap_or_default();
                    seed(listing, held, position, false)
                }
            }
        })
        .collect())
}

fn fail(e: StorageError) -> LoadError {
    LoadError(e.to_string())
}

fn seed(listing: ListingRecord, holdings: StoredHoldings, position: u64, restored: bool) -> ListingSeed {
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
        position,
        restored,
    }
}

impl RoomStore for SqlRoomStore {
    fn load_room(&self, room_id: RoomId) -> BoxFuture<'static, Result<Option<RoomSeed>, LoadError>> {
        let storage = self.storage.clone();
        let signer = self.signer.clone();
        let snapshots = self.snapshots.clone();
        Box::pin(async move {
            let Some(room) = storage.find_room(room_id).await.map_err(fail)? else {
                return Ok(None);
            };
            let play = signer.play(&room.stream_key);
            let listings = storage.listings_of_room(room_id).await.map_err(fail)?;
            let listings = listing_seeds(&storage, &*snapshots, listings).await?;
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
        let snapshots = self.snapshots.clone();
        Box::pin(async move {
            let Some(listing) = storage.find_listing(listing_id).await.map_err(fail)? else {
                return Ok(None);
            };
            if listing.room_id != room_id {
                return Ok(None);
            }
            Ok(listing_seeds(&storage, &*snapshots, vec![listing]).await?.pop())
        })
    }
}
