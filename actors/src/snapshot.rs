//! Write-behind snapshots of actor state (the design's "Redis persistence"): a restarted or
//! passivated room resumes its chat in the same epoch, with its likes, instead of starting
//! afresh. Snapshots are written in the background at most once an interval and only when
//! something changed, never on an order's path, and they are never the source of truth for
//! anything durable: orders, stock and statuses live in SQL, and a missing or failed snapshot
//! only costs viewers a resync.

use crate::ids::RoomId;
use crate::room::chat::ChatSnapshot;
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

/// What a RoomActor keeps across incarnations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSnapshot {
    pub likes: u64,
    pub chat: ChatSnapshot,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("the snapshot store failed: {0}")]
pub struct SnapshotError(pub String);

/// Where snapshots go: Redis when configured, else the SQL database.
pub trait SnapshotStore: Send + Sync + 'static {
    fn save_room(&self, room_id: RoomId, snapshot: RoomSnapshot) -> BoxFuture<'static, Result<(), SnapshotError>>;
    fn load_room(&self, room_id: RoomId) -> BoxFuture<'static, Result<Option<RoomSnapshot>, SnapshotError>>;
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
}
