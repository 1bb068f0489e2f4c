//! A listing's terms changed or its sale closed early (`UpdateListing`), or it was withdrawn from
//! the room (`DetachListing`): the room's view of it follows, and so do its viewers.

use super::actor::RoomActor;
use crate::ids::ListingId;
use crate::session::{LatestKey, ListingInfo, Policy, ServerFrame};
use actix::prelude::*;

/// The listing as it stands after a durable change. Viewers get it again in a `listing` frame
/// (the same id: it replaces what they had), and `sale_ended` follows when its window closed.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct UpdateListing {
    pub listing: ListingInfo,
}

/// The listing is gone (deleted, never ordered from). If it was pinned, nothing is pinned now
/// and viewers get `pinned` with `listing_id: null`.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct DetachListing {
    pub listing_id: ListingId,
}

impl Handler<UpdateListing> for RoomActor {
    type Result = ();

    fn handle(&mut self, msg: UpdateListing, _ctx: &mut Self::Context) {
        let listing_id = msg.listing.id;
        if !self.info.contains_key(&listing_id) {
            return;
        }
        // A new window is announced afresh: `sale_open` and `sale_ended` by the next tick.
        self.announced_open.remove(&listing_id);
        self.announced_ended.remove(&listing_id);
        self.broadcast(
            &ServerFrame::Listing {
                listing: msg.listing.clone(),
            },
            Policy::MustDeliver,
        );
        self.info.insert(listing_id, msg.listing);
    }
}

impl Handler<DetachListing> for RoomActor {
    type Result = ();

    fn handle(&mut self, msg: DetachListing, _ctx: &mut Self::Context) {
        let listing_id = msg.listing_id;
        self.listings.retain(|id| *id != listing_id);
        self.info.remove(&listing_id);
        self.inventories.remove(&listing_id);
        self.dirty_stock.remove(&listing_id);
        self.announced_open.remove(&listing_id);
        self.announced_ended.remove(&listing_id);
        if self.pinned_listing_id == Some(listing_id) {
            self.pinned_listing_id = None;
            let frame = ServerFrame::Pinned { listing_id: None };
            self.broadcast(&frame, Policy::Latest(LatestKey::Pinned));
        }
    }
}
