//! The entries an InventoryActor has sent to the journal and not yet seen answered, in the order
//! it appended them, and how a batch's outcomes reach the buyers.
//!
//! The journal tells the actor once per batch (`Committed`), with the outcomes of its entries in
//! append order, so the actor pops them off the front of this queue one by one. A new order's
//! caller is not answered by a future of its own: the handler's reply ([`ReserveReply`], a
//! custom [`MessageResponse`]) parks actix's reply sender in the queue beside the order, and the
//! batch's notification answers it. Nothing is spawned into the actor's context per order, so a
//! wake-up of the actor costs nothing per order in flight (actix polls every spawned future on
//! each wake-up), and the path to the acknowledgement allocates nothing per order. A reserve
//! that came in a gathered batch ([`ReserveMany`](crate::inventory::ReserveMany)) parks its place
//! in the batch's answers instead of a reply sender.

use super::{InventoryActor, Placed, Reserve, ReserveFailed};
use crate::ids::OrderId;
use crate::inventory::gather::Slot;
use crate::journal::{CommitListener, JournalError, Outcome};
use crate::order::Order;
use actix::dev::{MessageResponse, OneshotSender};
use actix::prelude::*;
use actix::WeakAddr;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

type ReserveAnswer = Result<Placed, ReserveFailed>;

/// One entry sent to the journal and not answered yet.
pub(super) struct InFlight {
    /// When it was appended: a commit in flight for too long means storage is in trouble.
    pub(super) sent: Instant,
    pub(super) waiting: Waiting,
}

/// Who waits for an entry's outcome.
pub(super) enum Waiting {
    /// A new order, answered from here. `replays` are the callers that sent the same idempotency
    /// key meanwhile (none, almost always: no allocation per order for them).
    Order {
        order: Order,
        reply: Replier,
        replays: Vec<Replier>,
    },
    /// An expiry of this order, applied from here: a sale's unpaid orders fall due together,
    /// so expiries are as many as orders and get no future either.
    Expiry(OrderId),
    /// A cancel, restock or payment: rare, so its handler keeps a future, woken by this.
    Change(tokio::sync::oneshot::Sender<Outcome>),
}

impl InFlight {
    /// The buyer and units of a new order: what would come back if its commit failed.
    pub(super) fn held(&self) -> Option<(crate::ids::UserId, u32)> {
        match &self.waiting {
            Waiting::Order { order, .. } => Some((order.user_id, order.quantity)),
            Waiting::Expiry(_) | Waiting::Change(_) => None,
        }
    }
}

/// The queue of entries in flight, in append order. Shared by the actor and the replies its
/// `Reserve` handler returns, because actix hands the reply sender to the reply, not to the
/// handler. Both run on the actor's thread, one after the other, so the lock is never contended.
#[derive(Default)]
pub(super) struct Commits(Mutex<VecDeque<InFlight>>);

impl Commits {
    /// The queue. A panic while it was held (there is no code that panics there) leaves it as
    /// consistent as any single push or pop does, so a poisoned lock is taken as it is.
    pub(super) fn lock(&self) -> MutexGuard<'_, VecDeque<InFlight>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Where a reserve's answer goes.
pub(crate) enum Replier {
    /// actix's reply sender of a `Reserve` (none for a `do_send`).
    Sent(Option<OneshotSender<ReserveAnswer>>),
    /// Its place in a gathered batch's answers.
    Gathered(Slot),
}

impl Replier {
    /// Answers the caller; one that gave up (its deadline passed) is simply not there any more.
    pub(crate) fn answer(self, answer: ReserveAnswer) {
        match self {
            Replier::Sent(Some(tx)) => {
                let _ = tx.send(answer);
            }
            Replier::Sent(None) => {}
            Replier::Gathered(slot) => slot.answer(answer),
        }
    }

    /// Whether anyone is there to answer (a `do_send` has nobody).
    fn is_waiting(&self) -> bool {
        !matches!(self, Replier::Sent(None))
    }
}

/// What the `Reserve` handler answers: at once, or once the order's batch has an outcome.
pub struct ReserveReply(Reply);

enum Reply {
    Now(ReserveAnswer),
    /// A new order the journal has queued: its caller waits in the queue for its outcome.
    AtCommit {
        commits: Arc<Commits>,
        order: Order,
        sent: Instant,
    },
    /// A repeat of an idempotency key: answered with its order's outcome if that order is still
    /// in flight, else at once (it committed). Found by a scan of the entries in flight: a
    /// repeat is rare, and this keeps the common order free of a map insert and removal.
    Replay {
        commits: Arc<Commits>,
        order_id: OrderId,
    },
}

impl ReserveReply {
    pub(super) fn now(answer: ReserveAnswer) -> Self {
        Self(Reply::Now(answer))
    }

    pub(super) fn at_commit(commits: Arc<Commits>, order: Order, sent: Instant) -> Self {
        Self(Reply::AtCommit { commits, order, sent })
    }

    pub(super) fn replay(commits: Arc<Commits>, order_id: OrderId) -> Self {
        Self(Reply::Replay { commits, order_id })
    }
}

impl ReserveReply {
    /// Answers `reply` now, or parks it with the order until the order's batch has an outcome.
    pub(crate) fn park(self, reply: Replier) {
        match self.0 {
            Reply::Now(answer) => reply.answer(answer),
            Reply::AtCommit { commits, order, sent } => commits.lock().push_back(InFlight {
                sent,
                waiting: Waiting::Order {
                    order,
                    reply,
                    replays: Vec::new(),
                },
            }),
            Reply::Replay { commits, order_id } => {
                let mut queue = commits.lock();
                let original = queue.iter_mut().find_map(|entry| match &mut entry.waiting {
                    Waiting::Order { order, replays, .. } if order.id == order_id => Some(replays),
                    _ => None,
                });
                match original {
                    Some(replays) if reply.is_waiting() => replays.push(reply),
                    Some(_) => {}
                    None => reply.answer(Ok(Placed::Replayed(order_id))),
                }
            }
        }
    }
}

impl MessageResponse<InventoryActor, Reserve> for ReserveReply {
    fn handle(self, _ctx: &mut Context<InventoryActor>, tx: Option<OneshotSender<ReserveAnswer>>) {
        self.park(Replier::Sent(tx));
    }
}

/// The outcomes of this actor's entries in one journal batch, in append order.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Committed {
    outcomes: Vec<Outcome>,
}

/// The journal's way to the actor: queues `Committed` in its mailbox. Weak, so the actor's own
/// listener does not keep it running; a stopped actor's outcomes have nobody to answer.
pub(super) struct ToActor(pub(super) WeakAddr<InventoryActor>);

impl CommitListener for ToActor {
    fn committed(&self, outcomes: Vec<Outcome>) {
        if let Some(actor) = self.0.upgrade() {
            actor.do_send(Committed { outcomes });
        }
    }
}

impl Handler<Committed> for InventoryActor {
    type Result = ();

    fn handle(&mut self, msg: Committed, ctx: &mut Self::Context) {
        let commits = self.commits.clone();
        let mut queue = commits.lock();
        let (mut placed, mut fenced, mut expired) = (false, false, 0u64);
        for outcome in msg.outcomes {
            let Some(entry) = queue.pop_front() else {
                tracing::error!(
                    listing.id = %self.state.terms().listing_id,
                    "the journal answered an entry this listing is not waiting for; ignored"
                );
                break;
            };
            match entry.waiting {
                // Its handler's future applies it and counts it answered.
                Waiting::Change(waiter) => {
                    let _ = waiter.send(outcome);
                }
                Waiting::Expiry(order_id) => {
                    self.answered(outcome.is_ok());
                    self.expiring = self.expiring.saturating_sub(1);
                    match outcome {
                        Ok(()) => {
                            self.state.finish_expire(order_id);
                            expired += 1;
                        }
                        Err(err) => {
                            self.state.abort_expire(order_id);
                            fenced |= err == JournalError::Fenced;
                        }
                    }
                }
                Waiting::Order { order, reply, replays } => {
                    self.answered(outcome.is_ok());
                    for replay in replays {
                        let again = outcome.clone().map(|()| Placed::Replayed(order.id));
                        replay.answer(again.map_err(Into::into));
                    }
                    match outcome {
                        Ok(()) => {
                            placed = true;
                            reply.answer(Ok(Placed::New(order)));
                        }
                        Err(err) => {
                            // Only a commit known not to have happened is undone: the journal
                            // resolves an ambiguous one before it answers.
                            self.state.undo_reserve(order.id);
                            fenced |= err == JournalError::Fenced;
                            reply.answer(Err(err.into()));
                        }
                    }
                }
            }
        }
        drop(queue);
        if expired > 0 {
            metrics::counter!("livecart_orders_expired_total").increment(expired);
        }
        if placed || expired > 0 {
            self.announce_stock(ctx);
        }
        if fenced {
            self.fenced_off(ctx);
        } else if expired > 0 {
            // Room for more: the rest of a mass expiry goes on at the journal's pace. Failed
            // ones wait for the next tick, so a failing journal is not retried in a loop.
            self.expire_due();
        }
    }
}
