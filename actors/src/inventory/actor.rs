//! The InventoryActor: the only writer of one listing's stock.
//!
//! Every reserve, cancel and restock of the listing passes through this mailbox, so the rules in
//! [`InventoryState`] run one at a time with no lock. The actor decides in memory, appends the
//! decision to the journal and answers only when the journal's batch has committed; meanwhile it
//! goes on deciding the next messages, so many orders share one commit.

use super::state::{CancelError, InventoryState, ReserveError, ReserveRequest, Reserved};
use crate::clock::Clock;
use crate::events::{DomainEvent, EventPayload};
use crate::ids::{OrderId, RoomId};
use crate::journal::{Journal, JournalAck, JournalEntry, JournalError};
use crate::order::Order;
use crate::room::{RoomStatus, StockChanged};
use actix::prelude::*;
use futures_util::future::{FutureExt, Shared};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Reserve units for a buyer; answered after the order is durable.
#[derive(Debug, Message)]
#[rtype(result = "Result<Placed, ReserveFailed>")]
pub struct Reserve {
    /// The room the buyer ordered in; a listing of another room is refused as unknown.
    pub room_id: RoomId,
    pub request: ReserveRequest,
}

/// Give up a reserved order; its units return once the cancel is durable.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), CancelFailed>")]
pub struct Cancel {
    pub order_id: OrderId,
}

/// Make more units sellable; answered with the new stock left once durable.
#[derive(Debug, Message)]
#[rtype(result = "Result<u64, RestockFailed>")]
pub struct Restock {
    pub added: u32,
}

/// The room's status, pushed by the RoomActor so a reserve is decided here in one step.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct SetRoomStatus {
    pub status: RoomStatus,
}

/// Ask for the listing's live figures.
#[derive(Debug, Message)]
#[rtype(result = "InventorySnapshot")]
pub struct Snapshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InventorySnapshot {
    pub stock_left: u64,
}

/// A reserve that did not refuse: a new order, or the one an idempotency key already made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placed {
    New(Order),
    Replayed(OrderId),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReserveFailed {
    #[error("the listing is not in this room")]
    NotInRoom,
    #[error(transparent)]
    Refused(#[from] ReserveError),
    #[error(transparent)]
    Storage(JournalError),
}

impl From<JournalError> for ReserveFailed {
    fn from(err: JournalError) -> Self {
        match err {
            JournalError::KeyConflict => ReserveFailed::Refused(ReserveError::IdempotencyKeyReused),
            other => ReserveFailed::Storage(other),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CancelFailed {
    #[error(transparent)]
    Refused(#[from] CancelError),
    #[error(transparent)]
    Storage(#[from] JournalError),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestockFailed {
    #[error("a restock adds at least one unit")]
    NothingAdded,
    #[error(transparent)]
    Storage(#[from] JournalError),
}

pub struct InventoryActor {
    state: InventoryState,
    journal: Arc<dyn Journal>,
    clock: Arc<dyn Clock>,
    /// Commits still in flight, by order: a replay of the same idempotency key waits on the same
    /// commit rather than answering with an order that is not durable yet.
    pending: HashMap<OrderId, Shared<JournalAck>>,
    /// Told the stock left after committed changes, for the room's fan-out.
    stock_watcher: Option<Recipient<StockChanged>>,
    /// An announcement is already scheduled: changes until then are coalesced into it.
    announce_pending: bool,
}

/// How long stock changes are gathered into one announcement to the room.
const ANNOUNCE_AFTER: Duration = Duration::from_millis(50);

impl InventoryActor {
    pub fn new(
        state: InventoryState,
        journal: Arc<dyn Journal>,
        clock: Arc<dyn Clock>,
        stock_watcher: Option<Recipient<StockChanged>>,
    ) -> Self {
        Self {
            state,
            journal,
            clock,
            pending: HashMap::new(),
            stock_watcher,
            announce_pending: false,
        }
    }

    /// Tells the room the stock soon, once for every burst of changes: a sale of thousands of
    /// orders a second costs the room a few messages a second, so do_send stays bounded.
    fn announce_stock(&mut self, ctx: &mut Context<Self>) {
        if self.stock_watcher.is_none() || self.announce_pending {
            return;
        }
        self.announce_pending = true;
        ctx.run_later(ANNOUNCE_AFTER, |act, _ctx| {
            act.announce_pending = false;
            if let Some(watcher) = &act.stock_watcher {
                watcher.do_send(StockChanged {
                    listing_id: act.state.terms().listing_id,
                    stock_left: act.state.stock_left(),
                    total: act.state.total(),
                });
            }
        });
    }
}

impl Actor for InventoryActor {
    type Context = Context<Self>;
}

impl Handler<Reserve> for InventoryActor {
    type Result = ResponseActFuture<Self, Result<Placed, ReserveFailed>>;

    fn handle(&mut self, msg: Reserve, _ctx: &mut Self::Context) -> Self::Result {
        if msg.room_id != self.state.terms().room_id {
            return Box::pin(fut::ready(Err(ReserveFailed::NotInRoom)));
        }
        let now = self.clock.now();
        match self.state.reserve(msg.request, now) {
            Err(refusal) => Box::pin(fut::ready(Err(refusal.into()))),
            Ok(Reserved::Replayed(order_id)) => match self.pending.get(&order_id) {
                Some(commit) => {
                    let commit = commit.clone();
                    Box::pin(
                        async move { commit.await.map(|()| Placed::Replayed(order_id)).map_err(Into::into) }
                            .into_actor(self),
                    )
                }
                None => Box::pin(fut::ready(Ok(Placed::Replayed(order_id)))),
            },
            Ok(Reserved::New(order)) => {
                let event = DomainEvent::new(
                    now,
                    EventPayload::OrderCreated {
                        order_id: order.id,
                        room_id: order.room_id,
                        listing_id: order.listing_id,
                        user_id: order.user_id,
                        quantity: order.quantity,
                        total_cents: order.total_cents,
                    },
                );
                let commit = self
                    .journal
                    .append(JournalEntry::OrderPlaced {
                        order: order.clone(),
                        event,
                    })
                    .shared();
                self.pending.insert(order.id, commit.clone());
                Box::pin(commit.into_actor(self).map(move |committed, act, ctx| {
                    act.pending.remove(&order.id);
                    match committed {
                        Ok(()) => {
                            act.announce_stock(ctx);
                            Ok(Placed::New(order))
                        }
                        Err(err) => {
                            act.state.undo_reserve(order.id);
                            Err(err.into())
                        }
                    }
                }))
            }
        }
    }
}

impl Handler<Cancel> for InventoryActor {
    type Result = ResponseActFuture<Self, Result<(), CancelFailed>>;

    fn handle(&mut self, msg: Cancel, _ctx: &mut Self::Context) -> Self::Result {
        let order_id = msg.order_id;
        let Some((user_id, quantity)) = self.state.holding(&order_id) else {
            return Box::pin(fut::ready(Err(CancelError::UnknownOrder.into())));
        };
        if let Err(refusal) = self.state.begin_cancel(order_id) {
            return Box::pin(fut::ready(Err(refusal.into())));
        }
        let now = self.clock.now();
        let terms = self.state.terms();
        let event = DomainEvent::new(
            now,
            EventPayload::OrderCancelled {
                order_id,
                room_id: terms.room_id,
                listing_id: terms.listing_id,
                user_id,
                quantity,
            },
        );
        let commit = self.journal.append(JournalEntry::OrderCancelled {
            order_id,
            at: now,
            event,
        });
        Box::pin(commit.into_actor(self).map(move |committed, act, ctx| match committed {
            Ok(()) => {
                act.state.finish_cancel(order_id);
                act.announce_stock(ctx);
                Ok(())
            }
            Err(err) => {
                act.state.abort_cancel(order_id);
                Err(err.into())
            }
        }))
    }
}

impl Handler<Restock> for InventoryActor {
    type Result = ResponseActFuture<Self, Result<u64, RestockFailed>>;

    fn handle(&mut self, msg: Restock, _ctx: &mut Self::Context) -> Self::Result {
        if msg.added == 0 {
            return Box::pin(fut::ready(Err(RestockFailed::NothingAdded)));
        }
        let terms = self.state.terms();
        let listing_id = terms.listing_id;
        let payload = EventPayload::StockAdded {
            room_id: terms.room_id,
            listing_id,
            added: msg.added,
        };
        let event = DomainEvent::new(self.clock.now(), payload);
        let commit = self.journal.append(JournalEntry::StockAdded {
            listing_id,
            added: msg.added,
            event,
        });
        Box::pin(commit.into_actor(self).map(move |committed, act, ctx| {
            committed?;
            act.state.add_stock(msg.added);
            act.announce_stock(ctx);
            Ok(act.state.stock_left())
        }))
    }
}

impl Handler<SetRoomStatus> for InventoryActor {
    type Result = ();

    fn handle(&mut self, msg: SetRoomStatus, _ctx: &mut Self::Context) {
        self.state.set_room_status(msg.status);
    }
}

impl Handler<Snapshot> for InventoryActor {
    type Result = MessageResult<Snapshot>;

    fn handle(&mut self, _msg: Snapshot, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult(InventorySnapshot {
            stock_left: self.state.stock_left(),
        })
    }
}
