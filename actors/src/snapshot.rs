//! Write-behind snapshots of actor state (the design's "Redis persistence"): a restarted or
//! passivated room resumes its chat in the same epoch, with its likes, instead of starting
//! afresh. Snapshots are written in the background at most once an interval and only when
//! something changed, never on an order's path, and they are never the source of truth for
//! anything durable: orders, stock and statuses live in SQL, and a missing or failed snapshot
//! only costs viewers a resync.

use crate::ids::{ListingId, RoomId};
use crate::inventory::StoredHoldings;
use crate::room::chat::ChatSnapshot;
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What a RoomActor keeps across incarnations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSnapshot {
    pub likes: u64,
    pub chat: ChatSnapshot,
}

/// What an InventoryActor keeps across incarnations: what its orders hold, stamped with the
/// listing's journal position at the time. A listing restarts from it only when storage's
/// position is the same (nothing committed since); otherwise it rebuilds from the orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingSnapshot {
    pub position: u64,
    pub holdings: StoredHoldings,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("the snapshot store failed: {0}")]
pub struct SnapshotError(pub String);

/// Where snapshots go: Redis when configured, else the SQL database.
pub trait SnapshotStore: Send + Sync + 'static {
    fn save_room(&self, room_id: RoomId, snapshot: RoomSnapshot) -> BoxFuture<'static, Result<(), SnapshotError>>;
    fn load_room(&self, room_id: RoomId) -> BoxFuture<'static, Result<Option<RoomSnapshot>, SnapshotError>>;
    fn save_listing(
        &self,
        listing_id: ListingId,
        snapshot: ListingSnapshot,
    ) -> BoxFuture<'static, Result<(), SnapshotError>>;
    /// The snapshots kept for these listings; a listing with none is absent from the map.
    fn load_listings(
        &self,
        listing_ids: Vec<ListingId>,
    ) -> BoxFuture<'static, Result<HashMap<ListingId, ListingSnapshot>, SnapshotError>>;

    /// Changes when the store has lost what was written to it (a Redis that restarted empty):
    /// actors that see it change write their snapshot again even if nothing changed for them.
    fn generation(&self) -> u64 {
        0
    }
}

/// Keeps nothing: for tests and benches that do not look at snapshots.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoSnapshots;

impl SnapshotStore for NoSnapshots {
    fn save_room(&self, _room_id: RoomId, _snapshot: RoomSnapshot) -> BoxFuture<'static, Result<(), SnapshotError>> {
        Box::pin(async { Ok(()) })
    }

    fn load_room(&self, _room_id: RoomId) -> BoxFuture<'static, Result<Option<RoomSnapshot>, SnapshotError>> {
        Box::pin(async { Ok(None) })
    }

    fn save_listing(
        &self,
        _listing_id: ListingId,
        _snapshot: ListingSnapshot,
    ) -> BoxFuture<'static, Result<(), SnapshotError>> {
        Box::pin(async { Ok(()) })
    }

    fn load_listings(
        &self,
        _listing_ids: Vec<ListingId>,
    ) -> BoxFuture<'static, Result<HashMap<ListingId, ListingSnapshot>, SnapshotError>> {
        Box::pin(async { Ok(HashMap::new()) })
    }
}
