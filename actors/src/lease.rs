//! Ownership of a room across processes: one writer per listing, even with several nodes.
//!
//! A node serves a room's actors only while it holds the room's lease. Every acquisition hands
//! out a larger epoch (a fencing token), and every journal entry carries the epoch its actor was
//! started under; the journal refuses an entry whose epoch is no longer the room's, in the same
//! transaction as the write. So a stale owner (paused past its lease, cut off, or a previous
//! incarnation in this very process) can never make an order durable after a newer one took
//! over, whatever its clock or its memory says.

use crate::ids::RoomId;
use futures_util::future::BoxFuture;

/// A fencing token: larger for every new owner of a room.
pub type Epoch = u64;

/// The room and the epoch an actor writes under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fence {
    pub room_id: RoomId,
    pub epoch: Epoch,
}

/// What an attempt to take a room's lease found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquired {
    /// This node owns the room from now on, under a new epoch.
    Taken(Epoch),
    /// Another live node holds an unexpired lease: serve nothing for the room.
    HeldElsewhere,
    /// No such room.
    NoSuchRoom,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("the lease store failed: {0}")]
pub struct LeaseError(pub String);

/// The port through which the Directory takes, keeps and gives back rooms.
pub trait Leases: Send + Sync + 'static {
    /// Takes the room for this node with a new epoch, if no other live node holds it. Taking a
    /// room this node already holds also bumps the epoch: the old incarnation is fenced off.
    fn acquire(&self, room_id: RoomId) -> BoxFuture<'static, Result<Acquired, LeaseError>>;

    /// Extends the leases this node holds; answers the ones it no longer holds at that epoch.
    fn renew(&self, held: Vec<Fence>) -> BoxFuture<'static, Result<Vec<Fence>, LeaseError>>;

    /// Gives rooms back (a clean shutdown), so another node may take them at once.
    fn release(&self, held: Vec<Fence>) -> BoxFuture<'static, Result<(), LeaseError>>;
}
