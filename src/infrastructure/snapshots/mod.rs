//! The `SnapshotStore` port's adapters: Redis when configured, else the SQL database. Snapshots
//! are JSON, one value per room or listing.
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
use livecart_actors::{ListingId, RoomId};
use std::time::Duration;

/// A read or a flush that takes longer is given up (and retried on a later tick): snapshots
/// must never hold anything up.
const TIMEOUT: Duration = Duration::from_secs(2);

/// What a snapshot is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum SnapshotKey {
    Room(RoomId),
    Listing(ListingId),
}

fn fail(err: impl std::fmt::Display) -> SnapshotError {
    SnapshotError(err.to_string())
}
