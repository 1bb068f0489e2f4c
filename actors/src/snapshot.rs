//! Write-behind snapshots of actor state (the design's "Redis persistence"): a restarted or
//! passivated room resumes its chat in the same epoch, with its likes, instead of starting
//! afresh. Snapshots are written in the background at most once an interval and only when
//! something changed, never on an order's path, and they are never the source of truth for
//! anything durable: orders, stock and statuses live in SQL, and a missing or failed snapshot
//! only costs viewers a resync.

use crate::ids::{ListingId, RoomId, UserId};
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

/// What a viewer's SessionActor keeps for the viewer's next connection to the same room: where
/// the chat was when the connection ended, and the buys it had not answered yet. A viewer who
/// reconnects without an `epoch` and `offset` of its own (a reloaded page, a client that lost its
/// state) resumes from here, and gets the answer to each buy still pending without resending it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSnapshot {
    /// The room's chat epoch when the session joined; chat offsets only mean something in it.
    pub epoch: u64,
    /// The last chat offset handed to the viewer's socket (or the welcome's, if none was).
    pub offset: u64,
    pub buys: Vec<PendingBuy>,
    /// When it was taken (Unix milliseconds): an old resume point is not used.
    pub saved_at_ms: i64,
}

/// A `buy` frame the session had sent on and not yet answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingBuy {
    /// Also the order's idempotency key: placing it again answers with the order it made, if any.
    pub request_id: String,
    pub listing_id: ListingId,
    pub quantity: u32,
    /// When the frame arrived (Unix milliseconds): a buy pending for long is not placed again.
    pub sent_at_ms: i64,
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

    fn save_session(
        &self,
        room_id: RoomId,
        user_id: UserId,
        snapshot: SessionSnapshot,
    ) -> BoxFuture<'static, Result<(), SnapshotError>>;
    fn load_session(
        &self,
        room_id: RoomId,
        user_id: UserId,
    ) -> BoxFuture<'static, Result<Option<SessionSnapshot>, SnapshotError>>;

    /// Resolves once every snapshot saved before the call is written (a graceful stop's last step).
    fn flush(&self) -> BoxFuture<'static, Result<(), SnapshotError>> {
        Box::pin(async { Ok(()) })
    }

    /// The most entries (orders held, buyers holding) a listing's snapshot may have for this
    /// store to keep it; a listing past it writes none and is rebuilt from its orders at load.
    /// A store whose writes hold up the orders' own (SQLite's one write lock) keeps only what
    /// it writes in a few milliseconds.
    fn listing_entries_kept(&self) -> usize {
        usize::MAX
    }

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

    fn save_session(
        &self,
        _room_id: RoomId,
        _user_id: UserId,
        _snapshot: SessionSnapshot,
    ) -> BoxFuture<'static, Result<(), SnapshotError>> {
        Box::pin(async { Ok(()) })
    }

    fn load_session(
        &self,
        _room_id: RoomId,
        _user_id: UserId,
    ) -> BoxFuture<'static, Result<Option<SessionSnapshot>, SnapshotError>> {
        Box::pin(async { Ok(None) })
    }
}
