//! The `SnapshotStore` port's adapters: Redis when configured, else the SQL database. Snapshots
//! are JSON, one value per room, listing, or viewer in a room (a session's).
//!
//! Writes go through [`WriteBehind`]: each actor's latest snapshot waits in a map keyed by what
//! it snapshots, and a background task writes everything waiting in one round trip (a Redis
//! pipeline, or one SQL transaction). A snapshot superseded before its flush is never written.

mod redis;
mod sql;
mod write_behind;

pub use self::redis::RedisSnapshots;
pub use sql::SqlSnapshots;

use livecart_actors::snapshot::SnapshotError;
use livecart_actors::{ListingId, RoomId, UserId};
use std::time::Duration;

/// A read or a flush that takes longer is given up (and retried on a later tick): snapshots
/// must never hold anything up.
const TIMEOUT: Duration = Duration::from_secs(2);

/// What a snapshot is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum SnapshotKey {
    Room(RoomId),
    Listing(ListingId),
    /// A viewer's session in a room: one per viewer and room, whichever connection wrote last.
    Session(RoomId, UserId),
}

/// A viewer's session snapshot only serves a reconnect: it is kept this long after its last
/// write (the session refuses an older one anyway).
pub(crate) const SESSION_KEEP_S: u64 = 3600;

fn fail(err: impl std::fmt::Display) -> SnapshotError {
    SnapshotError(err.to_string())
}
