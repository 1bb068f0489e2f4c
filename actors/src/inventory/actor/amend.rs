//! Changes to the listing itself, decided by its actor so that no order slips in between the
//! check and the change: new terms and stock (`Amend`) and withdrawal (`Withdraw`) only while the
//! listing has no orders, and an early end of the sale (`CloseSale`) at any time.
//!
//! The change is made durable by a `write` the application hands over (the catalog's own
//! tables, through its ports), and the actor runs it as an atomic response: it takes no other
//! message, so no reserve is decided, until the write has answered and the change is applied.
//! A change waits for no commit: with one in flight it is refused as busy (retry).

use super::InventoryActor;
use crate::ids::RoomId;
use crate::inventory::state::ListingTerms;
use crate::room::StockChanged;
use actix::prelude::*;
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;

/// Makes a change durable; run while the actor decides nothing else.
pub type ListingWrite = BoxFuture<'static, Result<(), WriteRefused>>;

/// Why a write did not change the listing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteRefused {
    /// Storage holds orders of the listing (ones this incarnation never saw: cancelled before
    /// it started).
    #[error("the listing has orders")]
    HasOrders,
    #[error("the listing could not be written: {0}")]
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmendFailed {
    #[error("the listing is not in this room")]
    NotInRoom,
    #[error("the listing has orders")]
    HasOrders,
    /// Commits of the listing are in flight, or it is moving to a new incarnation: retry.
    #[error("the listing is busy; retry")]
    Busy,
    #[error(transparent)]
    Write(WriteRefused),
}

/// New terms and stock for a listing nobody has ordered from; answered with the stock left.
#[derive(Message)]
#[rtype(result = "Result<u64, AmendFailed>")]
pub struct Amend {
    pub room_id: RoomId,
    /// Its ids are ignored: a listing stays where it is.
    pub terms: ListingTerms,
    pub total: u64,
    pub write: ListingWrite,
}

/// End the sale at `at` (now): later reserves are refused as `sale_ended`. Allowed with orders.
#[derive(Message)]
#[rtype(result = "Result<(), AmendFailed>")]
pub struct CloseSale {
    pub room_id: RoomId,
    pub at: DateTime<Utc>,
    pub write: ListingWrite,
}

/// Take a listing nobody has ordered from out of the room. Once written, the actor turns all
/// work away (`Retiring`), and the Directory retires it.
#[derive(Message)]
#[rtype(result = "Result<(), AmendFailed>")]
pub struct Withdraw {
    pub room_id: RoomId,
    pub write: ListingWrite,
}

impl InventoryActor {
    /// The checks every change makes first.
    fn may_change(&self, room_id: RoomId, needs_no_orders: bool) -> Result<(), AmendFailed> {
        if room_id != self.state.terms().room_id {
            return Err(AmendFailed::NotInRoom);
        }
        if needs_no_orders && self.state.has_orders() {
            return Err(AmendFailed::HasOrders);
        }
        if self.retiring || self.in_flight > 0 {
            return Err(AmendFailed::Busy);
        }
        Ok(())
    }

    /// Runs `write` with the mailbox held, then `apply` if it succeeded.
    fn exclusively<T: 'static>(
        &mut self,
        checked: Result<(), AmendFailed>,
        write: ListingWrite,
        apply: impl FnOnce(&mut Self, &mut Context<Self>) -> T + 'static,
    ) -> AtomicResponse<Self, Result<T, AmendFailed>> {
        self.activity = self.activity.wrapping_add(1);
        if let Err(refused) = checked {
            return AtomicResponse::new(Box::pin(fut::ready(Err(refused))));
        }
        AtomicResponse::new(Box::pin(write.into_actor(self).map(
            move |written, act, ctx| match written {
                Ok(()) => Ok(apply(act, ctx)),
                Err(WriteRefused::HasOrders) => Err(AmendFailed::HasOrders),
                Err(failed) => Err(AmendFailed::Write(failed)),
            },
        )))
    }

    /// Tells the room the new stock at once (not coalesced: a change is rare).
    fn tell_stock(&self) {
        if let Some(watcher) = &self.stock_watcher {
            watcher.do_send(StockChanged {
                listing_id: self.state.terms().listing_id,
                stock_left: self.state.stock_left(),
                total: self.state.total(),
            });
        }
    }
}

impl Handler<Amend> for InventoryActor {
    type Result = AtomicResponse<Self, Result<u64, AmendFailed>>;

    fn handle(&mut self, msg: Amend, _ctx: &mut Self::Context) -> Self::Result {
        let checked = self.may_change(msg.room_id, true);
        let (terms, total) = (msg.terms, msg.total);
        self.exclusively(checked, msg.write, move |act, _ctx| {
            act.state.amend(terms, total);
            act.tell_stock();
            act.state.stock_left()
        })
    }
}

impl Handler<CloseSale> for InventoryActor {
    type Result = AtomicResponse<Self, Result<(), AmendFailed>>;

    fn handle(&mut self, msg: CloseSale, _ctx: &mut Self::Context) -> Self::Result {
        let checked = self.may_change(msg.room_id, false);
        let at = msg.at;
        self.exclusively(checked, msg.write, move |act, _ctx| act.state.close_sale(at))
    }
}

impl Handler<Withdraw> for InventoryActor {
    type Result = AtomicResponse<Self, Result<(), AmendFailed>>;

    fn handle(&mut self, msg: Withdraw, _ctx: &mut Self::Context) -> Self::Result {
        let checked = self.may_change(msg.room_id, true);
        self.exclusively(checked, msg.write, |act, _ctx| act.retiring = true)
    }
}
