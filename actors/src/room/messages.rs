//! The RoomActor's messages: from use cases (status, listings, pin, moderation), from
//! inventory actors (stock), and from sessions (join, leave, chat, likes).

use crate::ids::{ListingId, UserId};
use crate::inventory::InventoryActor;
use crate::mailbox::Queued;
use crate::room::RoomStatus;
use crate::session::{ListingInfo, SessionId, SharedOutbox, Viewer};
use actix::prelude::*;
use std::sync::Arc;

/// The room's new status. Answered once every listing's actor has applied it, so a use case
/// that ends a live can stop the selling before it commits the end.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ChangeStatus {
    pub status: RoomStatus,
}

/// Write the room's snapshot now and answer when it is written (before the room stops).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Persist;

/// How many viewers are connected: a room with an audience is never passivated.
#[derive(Debug, Message)]
#[rtype(result = "usize")]
pub struct Occupancy;

/// The server is shutting down: every viewer is told to reconnect (close 1001), and nobody
/// new joins.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct GoAway;

/// Stop the room: it moved to a newer incarnation or another node. Its viewers are told to
/// reconnect (close 1001).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct RetireRoom;

/// A listing placed into the room, with the actor that owns its stock.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct AttachListing {
    pub listing: ListingInfo,
    pub inventory: Addr<InventoryActor>,
}

/// The listing the merchant is presenting now (`None`: nothing pinned), already durable.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Pin {
    pub listing_id: Option<ListingId>,
}

/// A listing's stock after a committed change, from its InventoryActor.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct StockChanged {
    pub listing_id: ListingId,
    pub stock_left: u64,
    /// Every unit ever made sellable (changes with a restock).
    pub total: u64,
}

/// Ask for the room as it stands.
#[derive(Debug, Message)]
#[rtype(result = "RoomView")]
pub struct Describe;

#[derive(Debug, Clone)]
pub struct RoomView {
    pub status: RoomStatus,
    pub pinned_listing_id: Option<ListingId>,
    pub viewer_count: u64,
    pub like_count: u64,
    /// In the order the listings were placed.
    pub listings: Vec<(ListingId, Addr<InventoryActor>)>,
}

/// A session enters: it gets the welcome (and missed chat) before any broadcast, and learns
/// where the chat stood, which is its resume point until a chat frame moves it.
#[derive(Debug, Message)]
#[rtype(result = "ChatPosition")]
pub struct Join {
    pub session_id: SessionId,
    pub viewer: Viewer,
    pub outbox: Arc<SharedOutbox>,
    pub resume: Option<(u64, u64)>,
    /// Counted in the room actors' mailbox depth until handled.
    pub queued: Queued,
}

/// The room's chat epoch and newest offset, as the welcome gave them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, MessageResponse)]
pub struct ChatPosition {
    pub epoch: u64,
    pub offset: u64,
}

#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Leave {
    pub session_id: SessionId,
    /// Counted in the room actors' mailbox depth until handled.
    pub queued: Queued,
}

/// A chat line from a session; the room checks mutes and the sender's rate.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct PostChat {
    pub session_id: SessionId,
    pub text: String,
    /// Counted in the room actors' mailbox depth until handled.
    pub queued: Queued,
}

#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct AddLikes {
    pub count: u32,
    /// Counted in the room actors' mailbox depth until handled.
    pub queued: Queued,
}

/// Moderation, already durable: the user may not chat in this room until unmuted.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct SetMuted {
    pub user_id: UserId,
    pub muted: bool,
}

/// Moderation: remove a chat message; `false` when it is no longer in the ring.
#[derive(Debug, Message)]
#[rtype(result = "bool")]
pub struct DeleteChat {
    pub offset: u64,
}
