//! The RoomActor: a live room's status, listings and pinned listing.
//!
//! Status changes are persisted by the use case first (a conditional update is the arbiter of
//! concurrent go-live and end calls) and then told to the room, which pushes them into every
//! listing's InventoryActor. That push is what lets a reservation be decided in one actor, in one
//! message, without asking the room on the hot path.

use crate::ids::{ListingId, RoomId, UserId};
use crate::inventory::{InventoryActor, SetRoomStatus};
use crate::room::RoomStatus;
use actix::prelude::*;
use std::collections::HashMap;

/// The room's new status, already durable.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ChangeStatus {
    pub status: RoomStatus,
}

/// A listing placed into the room, with the actor that owns its stock.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct AttachListing {
    pub listing_id: ListingId,
    pub inventory: Addr<InventoryActor>,
}

/// The listing the merchant is presenting now, already durable.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Pin {
    pub listing_id: ListingId,
}

/// A listing's stock left after a committed change, from its InventoryActor.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct StockChanged {
    pub listing_id: ListingId,
    pub stock_left: u64,
}

/// Ask for the room as it stands.
#[derive(Debug, Message)]
#[rtype(result = "RoomView")]
pub struct Describe;

#[derive(Debug, Clone)]
pub struct RoomView {
    pub room_id: RoomId,
    pub merchant_id: UserId,
    pub status: RoomStatus,
    pub pinned_listing_id: Option<ListingId>,
    /// In the order the listings were placed.
    pub listings: Vec<(ListingId, Addr<InventoryActor>)>,
}

pub struct RoomActor {
    room_id: RoomId,
    merchant_id: UserId,
    status: RoomStatus,
    pinned_listing_id: Option<ListingId>,
    listings: Vec<ListingId>,
    inventories: HashMap<ListingId, Addr<InventoryActor>>,
    /// Latest stock per listing, as the fan-out will show it.
    stock: HashMap<ListingId, u64>,
}

impl RoomActor {
    pub fn new(
        room_id: RoomId,
        merchant_id: UserId,
        status: RoomStatus,
        pinned_listing_id: Option<ListingId>,
    ) -> Self {
        Self {
            room_id,
            merchant_id,
            status,
            pinned_listing_id,
            listings: Vec::new(),
            inventories: HashMap::new(),
            stock: HashMap::new(),
        }
    }
}

impl Actor for RoomActor {
    type Context = Context<Self>;
}

impl Handler<ChangeStatus> for RoomActor {
    type Result = ();

    fn handle(&mut self, msg: ChangeStatus, _ctx: &mut Self::Context) {
        self.status = msg.status;
        for inventory in self.inventories.values() {
            // do_send: a status change must reach every listing, whatever its mailbox holds.
            inventory.do_send(SetRoomStatus { status: msg.status });
        }
    }
}

impl Handler<AttachListing> for RoomActor {
    type Result = ();

    fn handle(&mut self, msg: AttachListing, _ctx: &mut Self::Context) {
        if self.inventories.contains_key(&msg.listing_id) {
            return;
        }
        // The listing may have been created while this room was starting: give it the status now.
        msg.inventory.do_send(SetRoomStatus {
            status: self.status,
        });
        self.listings.push(msg.listing_id);
        self.inventories.insert(msg.listing_id, msg.inventory);
    }
}

impl Handler<Pin> for RoomActor {
    type Result = ();

    fn handle(&mut self, msg: Pin, _ctx: &mut Self::Context) {
        self.pinned_listing_id = Some(msg.listing_id);
    }
}

impl Handler<StockChanged> for RoomActor {
    type Result = ();

    fn handle(&mut self, msg: StockChanged, _ctx: &mut Self::Context) {
        self.stock.insert(msg.listing_id, msg.stock_left);
    }
}

impl Handler<Describe> for RoomActor {
    type Result = MessageResult<Describe>;

    fn handle(&mut self, _msg: Describe, _ctx: &mut Self::Context) -> Self::Result {
        let listings = self
            .listings
            .iter()
            .filter_map(|id| self.inventories.get(id).map(|addr| (*id, addr.clone())))
            .collect();
        MessageResult(RoomView {
            room_id: self.room_id,
            merchant_id: self.merchant_id,
            status: self.status,
            pinned_listing_id: self.pinned_listing_id,
            listings,
        })
    }
}
