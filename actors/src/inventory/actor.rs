//! The InventoryActor: the only writer of one listing's stock.
//!
//! Every reserve, cancel and restock of the listing passes through this mailbox, so the rules in
//! [`InventoryState`] run one at a time with no lock. The actor decides in memory, appends the
//! decision to the journal and answers only when the journal's batch has committed; meanwhile it
//! goes on deciding the next messages, so many orders share one commit. The journal tells it the
//! outcomes once per batch, and it answers the batch's orders from its queue of commits in
//! flight (`commits`).

mod amend;
mod commits;
pub use amend::{Amend, AmendFailed, CloseSale, ListingWrite, Withdraw, WriteRefused};
pub use commits::{Committed, ReserveReply};

use commits::{Commits, InFlight, Replier, ToActor, Waiting};

use super::gather::ReserveMany;
use super::state::{
    CancelError, InventoryState, PayError, PayPlan, ReserveError, ReserveRequest, Reserved, StoredPayment,
};
use crate::clock::{to_whole_millis, Clock};
use crate::events::{DomainEvent, EventPayload};
use crate::ids::{OrderId, RoomId, UserId};
use crate::journal::{Journal, JournalEntry, JournalError, Listener, Outcome};
use crate::lease::Fence;
use crate::mailbox::Queued;
use crate::order::Order;
use crate::room::{RoomStatus, StockChanged};
use crate::snapshot::{ListingSnapshot, NoSnapshots, SnapshotStore};
use actix::prelude::*;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Reserve units for a buyer; answered after the order is durable.
#[derive(Debug, Message)]
#[rtype(result = "Result<Placed, ReserveFailed>")]
pub struct Reserve {
    /// The room the buyer ordered in; a listing of another room is refused as unknown.
    pub room_id: RoomId,
    pub request: ReserveRequest,
    /// Counted in the inventory actors' mailbox depth until handled.
    pub queued: Queued,
}

impl Reserve {
    pub fn new(room_id: RoomId, request: ReserveRequest) -> Self {
        Self {
            room_id,
            request,
            queued: Queued::inventory(),
        }
    }
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
    /// The room the merchant restocks in; a listing of another room is refused as unknown, so
    /// owning one room never reaches another merchant's stock.
    pub room_id: RoomId,
    pub added: u32,
}

/// The room's status, pushed by the RoomActor so a reserve is decided here in one step.
/// Answered once applied: after it, no reserve is decided under the old status.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct SetRoomStatus {
    pub status: RoomStatus,
}

/// A payment the provider confirmed for an order of this listing; answered once the order's new
/// status is durable.
#[derive(Debug, Message)]
#[rtype(result = "Result<PaidOutcome, PayFailed>")]
pub struct Pay {
    pub room_id: RoomId,
    /// The order as storage has it (this incarnation may no longer hold it).
    pub order: StoredPayment,
    pub payment_id: uuid::Uuid,
}

/// What a confirmed payment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaidOutcome {
    /// The order is paid (`late`: it had expired or been cancelled and was reserved again).
    Paid { late: bool },
    /// The order's units were gone: it is refunded.
    Refunded,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayFailed {
    #[error("the listing is not in this room")]
    NotInRoom,
    #[error(transparent)]
    Refused(#[from] PayError),
    #[error(transparent)]
    Storage(#[from] JournalError),
}

/// How long the listing has had nothing to do: no message, no commit in flight and no
/// reservation waiting for its deadline. `None` while it is busy.
#[derive(Debug, Message)]
#[rtype(result = "Option<Duration>")]
pub struct IdleFor;

/// Answered once every change sent to the journal so far has its answer: the last step before
/// the actor is passivated, so no commit outlives its incarnation.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Drain;

/// Stop: the room moved to a newer incarnation or another node. New work is refused at once
/// (`Retiring`: the caller goes to the new incarnation); commits in flight still answer their
/// callers (the journal fences them off if a newer owner exists), and the actor stops after.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Retire;

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
    /// This incarnation is being passivated: ask the Directory again for the next one.
    #[error("the listing's actor is stopping")]
    Retiring,
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
    #[error("the listing is not in this room")]
    NotInRoom,
    #[error("a restock adds at least one unit")]
    NothingAdded,
    #[error(transparent)]
    Storage(#[from] JournalError),
}

pub struct InventoryActor {
    state: InventoryState,
    /// The room's lease epoch this incarnation writes under.
    fence: Fence,
    journal: Arc<dyn Journal>,
    clock: Arc<dyn Clock>,
    /// How the journal reaches this actor with its outcomes; made when the actor starts.
    listener: Option<Listener>,
    /// Entries sent to the journal and not answered yet, in append order, with when they were
    /// sent: a replay of an idempotency key waits on its order's commit rather than answering
    /// with an order that is not durable yet, and a commit that does not come tells buyers to
    /// retry rather than sold out.
    commits: Arc<Commits>,
    /// Told the stock left after committed changes, for the room's fan-out.
    stock_watcher: Option<Recipient<StockChanged>>,
    /// An announcement is already scheduled: changes until then are coalesced into it.
    announce_pending: bool,
    /// Changes sent to the journal and not answered yet (orders, cancels, restocks, payments,
    /// expiries).
    in_flight: usize,
    /// Expiries among them (see [`EXPIRIES_IN_FLIGHT`]).
    expiring: usize,
    /// Counts what the listing does (messages and answered commits): a counter, not a clock
    /// read, so the hot path pays nothing for idleness tracking.
    activity: u64,
    /// The activity count when `IdleFor` last saw it change, and when that was: the listing has
    /// been quiet since then if the count has not moved.
    quiet_since: (u64, Instant),
    /// `Drain` callers waiting for `in_flight` to reach zero.
    drained: Vec<tokio::sync::oneshot::Sender<()>>,
    /// Set by `Drain`: new work is turned away to the next incarnation.
    retiring: bool,
    /// Where the listing's snapshot goes, written behind (see [`ListingSnapshot`]).
    snapshots: Arc<dyn SnapshotStore>,
    /// The listing's journal position: the one it started from plus every entry of this
    /// incarnation that committed. With nothing in flight, the state holds exactly the
    /// committed entries up to it.
    position: u64,
    /// The position of the last snapshot written (or found at start): nothing to write while
    /// the position has not moved.
    saved_position: Option<u64>,
    /// The store's generation when this actor last wrote: a store that lost its data is
    /// written again.
    saved_generation: u64,
    /// A snapshot write is on its way: the next waits for it.
    saving: bool,
    /// When the last snapshot was taken, and what taking it cost, from the copy of the holdings
    /// to the write (both grow with the listing's orders).
    last_snapshot: Option<(Instant, Duration)>,
    /// The activity count at the last snapshot tick: unchanged at the next one means nothing
    /// happened for a whole tick.
    activity_at_tick: u64,
}

/// At most one snapshot write per listing per this interval, and only when its position moved.
const SNAPSHOT_EVERY: Duration = Duration::from_secs(1);

/// A snapshot costs time that grows with the listing's orders (a hot listing of 400,000 orders
/// took about a quarter of a second, every second, and the room actors sharing its thread
/// stalled with it: fan-out's p99 went over 200 ms). The store encodes it off the actor's
/// thread, and the next one waits at least this many times what the last one cost in all: a
/// hot listing's snapshots take at most about 1/40 of a core.
const SNAPSHOT_COST_FACTOR: u32 = 40;

/// Above this many entries (orders held, buyers holding) a listing's snapshot is written only
/// once the listing has been quiet for a whole tick, never during its sale. Writing it costs
/// about a microsecond per entry, with SQLite's one write lock held throughout: a hot listing's
/// snapshot of 270,000 reserved orders held it for a quarter of a second, and every order of
/// every listing waited behind it (the open-loop p99 of a flash sale reached 300 ms). A snapshot taken
/// mid-sale is stale at the next order anyway; the one that lets a restart skip reading the
/// orders is the one taken after the last change. Below it, a write holds the lock for about
/// 2 ms and is still taken every tick, so a listing that never pauses keeps a recent one.
const WRITE_WHEN_QUIET_ABOVE: usize = 2_000;

/// Whether a snapshot is due, given when the last one was taken and what it cost.
fn snapshot_due(last: Option<(Instant, Duration)>, now: Instant) -> bool {
    last.is_none_or(|(at, cost)| now.saturating_duration_since(at) >= SNAPSHOT_EVERY.max(cost * SNAPSHOT_COST_FACTOR))
}

/// How long stock changes are gathered into one announcement to the room.
const ANNOUNCE_AFTER: Duration = Duration::from_millis(50);

/// The answer to work that reaches an incarnation being passivated.
fn moving() -> JournalError {
    JournalError::Unavailable("the listing is moving to a new incarnation; retry".into())
}

/// Messages the mailbox holds before senders wait: the orders of a sale's burst (the load
/// bench's 1,000 connections on one listing) fit.
const MAILBOX_CAPACITY: usize = 1024;

/// How often due reservations are looked for. A reservation expires within this of its
/// deadline; the check is a peek at the earliest deadline, so a quiet listing costs nothing.
const EXPIRY_TICK: Duration = Duration::from_millis(250);

/// Expiries of one listing sent to the journal and not answered yet, at most. An expiry once
/// spawned a future of its own, and actix polls every future an actor has spawned on each of its
/// wake-ups: a sale's unpaid reservations falling due together left the listings' thread
/// polling them, and every listing on it sold at a fraction of its pace. Expiries now wait in
/// the commits queue like orders, and this bound keeps a mass expiry from filling the journal's
/// queue (whose overflow refuses orders) or its batches, where each expiry is an update of its
/// own. With reservations of 10 s, so that a sale's orders fell due while it went on, the open
/// loop's p99 over HTTP was 10–12 ms with 64 in flight, 38–56 with 512 and 71–79 before
/// (docs/BENCHMARKS.md, "A sale's expiries no longer stall the listings").
const EXPIRIES_IN_FLIGHT: usize = 64;

/// A commit in flight for longer than this means storage is in trouble: a refusal that only
/// stands because of units such commits hold is answered "unavailable, retry", not sold out.
const COMMIT_STUCK_AFTER: Duration = Duration::from_millis(250);

impl InventoryActor {
    pub fn new(
        state: InventoryState,
        fence: Fence,
        journal: Arc<dyn Journal>,
        clock: Arc<dyn Clock>,
        stock_watcher: Option<Recipient<StockChanged>>,
    ) -> Self {
        Self {
            state,
            fence,
            journal,
            clock,
            listener: None,
            commits: Default::default(),
            stock_watcher,
            announce_pending: false,
            in_flight: 0,
            expiring: 0,
            activity: 0,
            quiet_since: (0, Instant::now()),
            drained: Vec::new(),
            retiring: false,
            snapshots: Arc::new(NoSnapshots),
            position: 0,
            saved_position: None,
            saved_generation: 0,
            saving: false,
            last_snapshot: None,
            activity_at_tick: 0,
        }
    }

    /// Writes snapshots to `snapshots`; `position` is the listing's journal position that
    /// `state` reflects, and `restored` says the state came from a snapshot at that position
    /// (so there is nothing to write until something changes).
    pub fn with_snapshots(mut self, snapshots: Arc<dyn SnapshotStore>, position: u64, restored: bool) -> Self {
        self.saved_generation = snapshots.generation();
        self.snapshots = snapshots;
        self.position = position;
        self.saved_position = restored.then_some(position);
        self
    }

    /// The snapshot of this moment, if the state is settled (with a change in flight the state
    /// holds effects storage may not have, or may never get) and small enough for the store to
    /// keep.
    fn settled_snapshot(&self) -> Option<ListingSnapshot> {
        // Past what the store keeps, the copy would only be thrown away.
        let kept = self.state.snapshot_entries() <= self.snapshots.listing_entries_kept();
        (self.in_flight == 0 && kept).then(|| ListingSnapshot {
            position: self.position,
            holdings: self.state.holdings(),
        })
    }

    /// Whether the snapshot kept is behind this incarnation, or lost with the store's data.
    fn snapshot_stale(&self, generation: u64) -> bool {
        self.saved_position != Some(self.position) || generation != self.saved_generation
    }

    /// The last snapshot of an incarnation that is stopping (passivation, shutdown), awaited so
    /// the next incarnation finds it; skipped when the one kept is current.
    fn final_snapshot(&self) -> impl std::future::Future<Output = ()> + 'static {
        let stale = self.snapshot_stale(self.snapshots.generation());
        let listing_id = self.state.terms().listing_id;
        let save = self
            .settled_snapshot()
            .filter(|_| stale)
            .map(|snapshot| self.snapshots.save_listing(listing_id, snapshot));
        async move {
            let Some(save) = save else { return };
            match save.await {
                Ok(()) => metrics::counter!("livecart_snapshots_written_total").increment(1),
                Err(err) => {
                    metrics::counter!("livecart_snapshots_failed_total").increment(1);
                    tracing::warn!(listing.id = %listing_id, error = %err, "listing snapshot not written before the listing stopped");
                }
            }
        }
    }

    /// Writes the snapshot in the background when the position moved (or the store lost it),
    /// the state is settled, no earlier write is still on its way, and (for a large listing)
    /// nothing happened since the last tick. A failed write is counted and tried again on a
    /// later tick.
    fn persist(&mut self, ctx: &mut Context<Self>) {
        let quiet = self.activity == self.activity_at_tick;
        self.activity_at_tick = self.activity;
        let generation = self.snapshots.generation();
        if self.saving || !self.snapshot_stale(generation) || !snapshot_due(self.last_snapshot, Instant::now()) {
            return;
        }
        if !quiet && self.state.snapshot_entries() > WRITE_WHEN_QUIET_ABOVE {
            return;
        }
        let started = Instant::now();
        let Some(snapshot) = self.settled_snapshot() else {
            return;
        };
        let position = snapshot.position;
        self.saving = true;
        // The store encodes the snapshot on a thread of its own; the copy above is all this
        // thread pays.
        let save = self.snapshots.save_listing(self.state.terms().listing_id, snapshot);
        ctx.spawn(save.into_actor(self).map(move |saved, act, _ctx| {
            act.saving = false;
            act.last_snapshot = Some((started, started.elapsed()));
            match saved {
                Ok(()) => {
                    metrics::counter!("livecart_snapshots_written_total").increment(1);
                    act.saved_position = Some(position);
                    act.saved_generation = generation;
                }
                Err(err) => {
                    metrics::counter!("livecart_snapshots_failed_total").increment(1);
                    tracing::debug!(listing.id = %act.state.terms().listing_id, error = %err, "listing snapshot skipped; will retry");
                }
            }
        }));
    }

    /// A change is on its way to the journal.
    fn began(&mut self) {
        self.in_flight += 1;
    }

    /// A change's answer came back; a committed one moved the listing's journal position.
    fn answered(&mut self, committed: bool) {
        if committed {
            self.position += 1;
        }
        self.in_flight = self.in_flight.saturating_sub(1);
        self.activity = self.activity.wrapping_add(1);
        if self.in_flight == 0 {
            for waiter in self.drained.drain(..) {
                let _ = waiter.send(());
            }
        }
    }

    /// Queues an entry in the journal; its outcome comes in a later `Committed`.
    fn append(&self, entry: JournalEntry) -> Result<(), JournalError> {
        match &self.listener {
            Some(listener) => self.journal.append(self.fence, entry, listener),
            // Handlers run only once `started` has made it.
            None => Err(JournalError::Unavailable("the listing's actor has not started".into())),
        }
    }

    /// Sends a change (not a new order) to the journal, counted in flight until its answer.
    /// Changes are rare, so each keeps a future the batch's `Committed` wakes.
    fn commit(&mut self, entry: JournalEntry) -> impl ActorFuture<Self, Output = Outcome> + 'static {
        self.began();
        let (waiter, outcome) = tokio::sync::oneshot::channel();
        match self.append(entry) {
            Ok(()) => self.commits.lock().push_back(InFlight {
                sent: Instant::now(),
                waiting: Waiting::Change(waiter),
            }),
            Err(err) => {
                let _ = waiter.send(Err(err));
            }
        }
        outcome.into_actor(self).map(|outcome, act, _ctx| {
            // The waiter goes only with the actor, and this future with it.
            let committed = outcome.unwrap_or_else(|_| Err(moving()));
            act.answered(committed.is_ok());
            committed
        })
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

    /// Whether some commit has been in flight for too long: the units it holds may yet return.
    /// Whether a sold-out or over-the-limit refusal might not stand: it would not, if commits
    /// in flight for too long failed and gave their units back. Only those units count, so a
    /// refusal that stands whatever they do (the stock was gone before them) is answered as it
    /// is, even while storage is slow.
    fn refusal_may_not_stand(&self, refusal: ReserveError, user_id: UserId, quantity: u32) -> bool {
        let now = Instant::now();
        let queue = self.commits.lock();
        // Appended in order, so the stuck ones are the oldest: a prefix of the queue.
        let stuck = queue
            .iter()
            .take_while(|commit| now.duration_since(commit.sent) > COMMIT_STUCK_AFTER)
            .filter_map(InFlight::held);
        match refusal {
            ReserveError::SoldOut => {
                let units: u64 = stuck.map(|(_, quantity)| u64::from(quantity)).sum();
                units > 0 && self.state.stock_left().saturating_add(units) >= u64::from(quantity)
            }
            ReserveError::LimitExceeded => {
                let units: u32 = stuck
                    .filter(|(buyer, _)| *buyer == user_id)
                    .map(|(_, quantity)| quantity)
                    .sum();
                let held = self.state.held_by(&user_id).saturating_sub(units);
                units > 0 && held.saturating_add(quantity) <= self.state.terms().per_user_limit
            }
            _ => false,
        }
    }

    /// Expires reservations past their deadline by the clock, the earliest first, up to
    /// [`EXPIRIES_IN_FLIGHT`] at a time: each expiry is journaled and its stock returns when it
    /// commits. Runs on every tick, once at start (a restarted listing expires what fell due
    /// while it was down), and whenever a batch answered some expiries, so a sale's worth of
    /// unpaid reservations falling due together expires as fast as the journal takes them
    /// without filling its queue ahead of the orders.
    fn expire_due(&mut self) {
        let room = EXPIRIES_IN_FLIGHT.saturating_sub(self.expiring);
        let now = self.clock.now();
        // A retiring incarnation starts nothing new: the next one expires what is left.
        if room == 0 || self.retiring || self.state.next_deadline().is_none_or(|at| at > now) {
            return;
        }
        let terms = self.state.terms().clone();
        let mut due = self.state.due_expiries_at_most(now, room).into_iter();
        for expiring in due.by_ref() {
            let event = DomainEvent::new(
                now,
                EventPayload::OrderExpired {
                    order_id: expiring.order_id,
                    room_id: terms.room_id,
                    listing_id: terms.listing_id,
                    user_id: expiring.user_id,
                    quantity: expiring.quantity,
                },
            );
            let entry = JournalEntry::OrderExpired {
                order_id: expiring.order_id,
                at: now,
                event,
            };
            if self.append(entry).is_err() {
                // The journal is full or down: this one and the rest are due again next tick.
                self.state.abort_expire(expiring.order_id);
                break;
            }
            self.began();
            self.expiring += 1;
            self.commits.lock().push_back(InFlight {
                sent: Instant::now(),
                waiting: Waiting::Expiry(expiring.order_id),
            });
        }
        for left in due {
            self.state.abort_expire(left.order_id);
        }
    }

    /// A newer owner took the room: this incarnation must not decide anything more.
    fn fenced_off(&mut self, ctx: &mut Context<Self>) {
        tracing::warn!(
            room.id = %self.fence.room_id,
            listing.id = %self.state.terms().listing_id,
            lease.epoch = self.fence.epoch,
            "a newer owner holds the room; this listing's actor stops"
        );
        self.stop_when_drained(ctx);
    }

    /// Refuses new work from now on and stops once every entry in flight has its outcome. A
    /// caller dropped unanswered cannot tell a landed order from a lost one: `place_order`
    /// takes a closed mailbox for "nothing was decided" and places the order again, so a
    /// buyer without an idempotency key would get a second order for one request. Until then
    /// the actor holds its own address, so the journal's notifications (sent through a weak
    /// one) still reach it after the Directory has let it go.
    fn stop_when_drained(&mut self, ctx: &mut Context<Self>) {
        self.retiring = true;
        if self.in_flight == 0 {
            ctx.stop();
            return;
        }
        let (done, drained) = tokio::sync::oneshot::channel();
        self.drained.push(done);
        let own = ctx.address();
        ctx.spawn(
            async move {
                let _ = drained.await;
                drop(own);
            }
            .into_actor(self)
            .map(|(), _act, ctx| ctx.stop()),
        );
    }
}

impl Actor for InventoryActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Buyers `send` here from every HTTP worker at once. Past the capacity each sender is
        // parked (a task handle queued and a sender cloned, then woken across threads as the
        // mailbox drains, for every message): actix's default of 16 made that the usual case
        // during a sale. The queue is bounded all the same: each order waits at most its
        // deadline, and the journal's queue refuses what it cannot take.
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
        self.listener = Some(Arc::new(ToActor(ctx.address().downgrade())));
        self.expire_due();
        ctx.run_interval(EXPIRY_TICK, |act, _ctx| act.expire_due());
        ctx.run_interval(SNAPSHOT_EVERY, |act, ctx| act.persist(ctx));
        if !self.state.is_consistent() {
            tracing::error!(
                listing.id = %self.state.terms().listing_id,
                listing.total = self.state.total(),
                listing.taken = self.state.taken(),
                "stored totals are inconsistent (more units held than ever sellable); sales of this listing are suspended"
            );
        }
    }
}

impl Handler<Reserve> for InventoryActor {
    /// Answered now, or parked with the order until its batch's `Committed` (no future per
    /// order: see the `commits` module).
    type Result = ReserveReply;

    fn handle(&mut self, msg: Reserve, _ctx: &mut Self::Context) -> ReserveReply {
        let decided = self.decided_at();
        self.decide_reserve(msg, decided)
    }
}

impl Handler<ReserveMany> for InventoryActor {
    type Result = ();

    /// Each reserve is decided as a `Reserve` of its own would be, in the order gathered; one
    /// whose caller has given up is not decided (its slot answers `Closed` to nobody).
    fn handle(&mut self, msg: ReserveMany, _ctx: &mut Self::Context) {
        // One time for the whole message: its reserves are decided back to back, and reading
        // the clock and turning it into a calendar time was a tenth of each one's cost.
        let decided = self.decided_at();
        for (reserve, slot) in msg.entries {
            if slot.caller_gone() {
                continue;
            }
            self.decide_reserve(reserve, decided).park(Replier::Gathered(slot));
        }
    }
}

/// When reserves are decided: the listing's time (its sale window, the reservation's deadline,
/// the event's time) and the moment the wait for the commit starts.
#[derive(Debug, Clone, Copy)]
struct DecidedAt {
    now: DateTime<Utc>,
    sent: Instant,
}

impl InventoryActor {
    fn decided_at(&self) -> DecidedAt {
        DecidedAt {
            now: to_whole_millis(self.clock.now()),
            sent: Instant::now(),
        }
    }

    fn decide_reserve(&mut self, msg: Reserve, DecidedAt { now, sent }: DecidedAt) -> ReserveReply {
        self.activity = self.activity.wrapping_add(1);
        if self.retiring {
            return ReserveReply::now(Err(ReserveFailed::Retiring));
        }
        if msg.room_id != self.state.terms().room_id {
            return ReserveReply::now(Err(ReserveFailed::NotInRoom));
        }
        let (user_id, quantity) = (msg.request.user_id, msg.request.quantity);
        match self.state.reserve(msg.request, now) {
            Err(refusal @ (ReserveError::SoldOut | ReserveError::LimitExceeded))
                if self.refusal_may_not_stand(refusal, user_id, quantity) =>
            {
                let stuck = JournalError::Unavailable("earlier commits have not completed".into());
                ReserveReply::now(Err(ReserveFailed::Storage(stuck)))
            }
            Err(refusal) => ReserveReply::now(Err(refusal.into())),
            Ok(Reserved::Replayed(order_id)) => ReserveReply::replay(self.commits.clone(), order_id),
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
                let entry = JournalEntry::OrderPlaced {
                    order: order.clone(),
                    event,
                };
                match self.append(entry) {
                    Ok(()) => {
                        self.began();
                        ReserveReply::at_commit(self.commits.clone(), order, sent)
                    }
                    Err(err) => {
                        // Not queued, so certainly not written.
                        self.state.undo_reserve(order.id);
                        ReserveReply::now(Err(err.into()))
                    }
                }
            }
        }
    }
}

impl Handler<Cancel> for InventoryActor {
    type Result = ResponseActFuture<Self, Result<(), CancelFailed>>;

    fn handle(&mut self, msg: Cancel, _ctx: &mut Self::Context) -> Self::Result {
        if self.retiring {
            return Box::pin(fut::ready(Err(CancelFailed::Storage(moving()))));
        }
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
        let commit = self.commit(JournalEntry::OrderCancelled {
            order_id,
            at: now,
            event,
        });
        Box::pin(commit.map(move |committed, act, ctx| match committed {
            Ok(()) => {
                act.state.finish_cancel(order_id);
                act.announce_stock(ctx);
                Ok(())
            }
            Err(err) => {
                act.state.abort_cancel(order_id);
                if err == JournalError::Fenced {
                    act.fenced_off(ctx);
                }
                Err(err.into())
            }
        }))
    }
}

impl Handler<Restock> for InventoryActor {
    type Result = ResponseActFuture<Self, Result<u64, RestockFailed>>;

    fn handle(&mut self, msg: Restock, _ctx: &mut Self::Context) -> Self::Result {
        if self.retiring {
            return Box::pin(fut::ready(Err(RestockFailed::Storage(moving()))));
        }
        if msg.room_id != self.state.terms().room_id {
            return Box::pin(fut::ready(Err(RestockFailed::NotInRoom)));
        }
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
        let commit = self.commit(JournalEntry::StockAdded {
            listing_id,
            added: msg.added,
            event,
        });
        Box::pin(commit.map(move |committed, act, ctx| {
            if committed == Err(JournalError::Fenced) {
                act.fenced_off(ctx);
            }
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

impl Handler<Pay> for InventoryActor {
    type Result = ResponseActFuture<Self, Result<PaidOutcome, PayFailed>>;

    fn handle(&mut self, msg: Pay, _ctx: &mut Self::Context) -> Self::Result {
        if self.retiring {
            return Box::pin(fut::ready(Err(PayFailed::Storage(moving()))));
        }
        let terms = self.state.terms().clone();
        if msg.room_id != terms.room_id {
            return Box::pin(fut::ready(Err(PayFailed::NotInRoom)));
        }
        let now = self.clock.now();
        let order = msg.order;
        let plan = match self.state.begin_pay(order, now) {
            Ok(plan) => plan,
            Err(refusal) => return Box::pin(fut::ready(Err(refusal.into()))),
        };
        let (order_id, payment_id) = (order.order_id, msg.payment_id);
        let entry = match plan {
            PayPlan::Capture | PayPlan::Rereserve => {
                let late = plan == PayPlan::Rereserve;
                let payload = EventPayload::OrderPaid {
                    order_id,
                    room_id: terms.room_id,
                    listing_id: terms.listing_id,
                    user_id: order.user_id,
                    payment_id,
                    late,
                };
                JournalEntry::OrderPaid {
                    order_id,
                    payment_id,
                    late,
                    at: now,
                    event: DomainEvent::new(now, payload),
                }
            }
            PayPlan::Refund => {
                let payload = EventPayload::OrderRefunded {
                    order_id,
                    room_id: terms.room_id,
                    listing_id: terms.listing_id,
                    user_id: order.user_id,
                    payment_id,
                };
                JournalEntry::OrderRefunded {
                    order_id,
                    payment_id,
                    at: now,
                    event: DomainEvent::new(now, payload),
                }
            }
        };
        let commit = self.commit(entry);
        Box::pin(commit.map(move |committed, act, ctx| match committed {
            Ok(()) => {
                act.state.finish_pay(order_id);
                if plan == PayPlan::Rereserve {
                    act.announce_stock(ctx);
                }
                Ok(match plan {
                    PayPlan::Refund => PaidOutcome::Refunded,
                    _ => PaidOutcome::Paid {
                        late: plan == PayPlan::Rereserve,
                    },
                })
            }
            Err(err) => {
                act.state.abort_pay(order_id, plan);
                if err == JournalError::Fenced {
                    act.fenced_off(ctx);
                }
                Err(err.into())
            }
        }))
    }
}

impl Handler<IdleFor> for InventoryActor {
    type Result = Option<Duration>;

    fn handle(&mut self, _msg: IdleFor, _ctx: &mut Self::Context) -> Option<Duration> {
        if self.quiet_since.0 != self.activity {
            self.quiet_since = (self.activity, Instant::now());
        }
        (self.in_flight == 0 && !self.state.has_reservations()).then(|| self.quiet_since.1.elapsed())
    }
}

impl Handler<Drain> for InventoryActor {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, _msg: Drain, _ctx: &mut Self::Context) -> Self::Result {
        self.retiring = true;
        let drained = if self.in_flight == 0 {
            None
        } else {
            let (done, wait) = tokio::sync::oneshot::channel();
            self.drained.push(done);
            Some(wait)
        };
        Box::pin(
            async move {
                if let Some(wait) = drained {
                    let _ = wait.await;
                }
            }
            .into_actor(self)
            .then(|(), act, _ctx| act.final_snapshot().into_actor(act)),
        )
    }
}

impl Handler<Retire> for InventoryActor {
    type Result = ();

    fn handle(&mut self, _msg: Retire, ctx: &mut Self::Context) {
        self.stop_when_drained(ctx);
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

#[cfg(test)]
mod snapshot_cadence {
    use super::*;

    #[test]
    fn a_cheap_snapshot_waits_the_interval_and_a_costly_one_forty_times_its_cost() {
        let now = Instant::now();
        assert!(snapshot_due(None, now), "the first is due at once");
        let cheap = Some((now, Duration::from_millis(2)));
        assert!(!snapshot_due(cheap, now + Duration::from_millis(999)));
        assert!(snapshot_due(cheap, now + SNAPSHOT_EVERY));
        let costly = Some((now, Duration::from_millis(250)));
        assert!(
            !snapshot_due(costly, now + Duration::from_secs(9)),
            "250 ms of work: not every second"
        );
        assert!(snapshot_due(costly, now + Duration::from_secs(10)));
    }
}
