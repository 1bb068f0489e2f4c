//! The rules of one listing's flash stock, with no actor, clock or I/O: every decision is a method
//! taking `&mut self` and the time, returning what was decided. The actor adds only the mailbox and
//! the journal.
//!
//! Durability shapes one rule here: effects that *take* availability (a reservation) apply at once
//! and can be undone if their commit fails, while effects that *give* availability back (a cancel,
//! a restock) apply only after their commit. Undoing a take can only free stock, so a failed commit
//! can never leave the listing oversold.

use crate::ids::{ListingId, OrderId, RoomId, UserId};
use crate::order::{Order, OrderStatus};
use crate::room::RoomStatus;
use chrono::{DateTime, Duration, Utc};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

/// A map keyed by ids the server made (users, orders): hashed with foldhash. Maps keyed by what
/// a client sends (idempotency keys) keep the standard hasher.
pub(crate) type IdMap<K, V> = foldhash::HashMap<K, V>;

mod amend;
mod lifecycle;
mod sharded;
pub use lifecycle::{Expiring, PayError, PayPlan, StoredPayment};
use sharded::ShardedIdMap;

/// The most units one order may ask for; anything larger is an absurd quantity, not a big buyer.
pub const MAX_ORDER_QUANTITY: u32 = 10_000;

/// What a merchant set when placing the listing into the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingTerms {
    pub listing_id: ListingId,
    pub room_id: RoomId,
    pub price_cents: i64,
    pub per_user_limit: u32,
    /// `None`: open as soon as the room is live.
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
}

/// A buyer's request, already authenticated and routed to this listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReserveRequest {
    /// Chosen by the caller so a retried request can be recognised.
    pub order_id: OrderId,
    pub user_id: UserId,
    pub quantity: u32,
    pub idempotency_key: Option<String>,
}

/// What a reserve decided when it did not refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reserved {
    /// A new order that now holds stock.
    New(Order),
    /// The idempotency key was seen with the same request: this is that order again.
    Replayed(OrderId),
}

/// Why a reservation was refused; each names the rule that refused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReserveError {
    #[error("the room is not live yet")]
    LiveNotStarted,
    #[error("the live has ended")]
    LiveEnded,
    #[error("the sale has not opened yet")]
    SaleNotOpen,
    #[error("the sale has ended")]
    SaleEnded,
    #[error("quantity must be a whole number from 1 to 10000")]
    InvalidQuantity,
    #[error("not enough stock left")]
    SoldOut,
    #[error("the per-user limit would be exceeded")]
    LimitExceeded,
    #[error("the idempotency key was used with another request")]
    IdempotencyKeyReused,
    /// The stored totals contradict each other (more units held than ever made sellable): the
    /// listing refuses to sell until an operator has looked, rather than guess which is right.
    #[error("sales of this listing are suspended: its stored totals are inconsistent")]
    Suspended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CancelError {
    #[error("no such order on this listing")]
    UnknownOrder,
    #[error("the order can no longer be cancelled")]
    NotCancellable,
}

/// An order that holds stock right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Holding {
    user_id: UserId,
    quantity: u32,
    status: OrderStatus,
    /// When an unpaid reservation stops holding its stock.
    expires_at: DateTime<Utc>,
    /// A change on its way to the journal: nothing else may start on the order until it commits
    /// or fails, and the stock stays held meanwhile.
    change: Option<Change>,
}

/// What is being made durable for an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Cancelling,
    Expiring,
    Paying,
}

/// A remembered idempotency key: which order it made and from which request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KeyUse {
    order_id: OrderId,
    quantity: u32,
}

#[derive(Debug, Clone)]
pub struct InventoryState {
    terms: ListingTerms,
    room_status: RoomStatus,
    reservation_ttl: Duration,
    /// Units ever made sellable: the initial stock plus every committed restock.
    total: u64,
    /// Units held by reserved or paid orders.
    taken: u64,
    per_user: ShardedIdMap<u32>,
    holdings: ShardedIdMap<Holding>,
    /// Keys of the orders this incarnation made, per buyer, so a lookup borrows the request's
    /// key. Older keys are not loaded: the journal's unique index catches a reuse, and the
    /// application looks the earlier order up in storage.
    keys: IdMap<UserId, HashMap<String, KeyUse>>,
    /// Set when the stored totals contradict each other; every reserve is then refused.
    inconsistent: bool,
    /// Reservations by deadline, earliest first: one heap per listing instead of a timer per
    /// order. An entry may be stale (the order was paid or cancelled meanwhile): it is checked
    /// against `holdings` when it comes due.
    deadlines: BinaryHeap<Reverse<(DateTime<Utc>, OrderId)>>,
}

/// A reserved order as rebuilt from storage: it may still be cancelled, so it is kept one by one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredOrder {
    pub order_id: OrderId,
    pub user_id: UserId,
    pub quantity: u32,
    pub expires_at: DateTime<Utc>,
}

/// What storage holds for one listing, in aggregate: enough to rebuild the state without reading
/// every order the listing ever had. A listing snapshot carries one too.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredHoldings {
    /// Units held by final orders (paid), per buyer: they count toward stock and limits only.
    pub settled: Vec<(UserId, u64)>,
    /// Orders still reserved.
    pub reserved: Vec<StoredOrder>,
}

impl InventoryState {
    pub fn new(terms: ListingTerms, room_status: RoomStatus, total: u64, reservation_ttl: Duration) -> Self {
        Self {
            terms,
            room_status,
            reservation_ttl,
            total,
            taken: 0,
            per_user: ShardedIdMap::default(),
            holdings: ShardedIdMap::default(),
            keys: IdMap::default(),
            inconsistent: false,
            deadlines: BinaryHeap::new(),
        }
    }

    /// Rebuilds the state from the listing's stored holdings (after a restart or a takeover).
    /// Totals that contradict each other (more held than ever sellable, a buyer's units beyond
    /// any count) leave the listing suspended: see [`InventoryState::is_consistent`].
    pub fn rehydrate(
        terms: ListingTerms,
        room_status: RoomStatus,
        total: u64,
        reservation_ttl: Duration,
        stored: StoredHoldings,
    ) -> Self {
        let mut state = Self::new(terms, room_status, total, reservation_ttl);
        for (user_id, units) in stored.settled {
            let Ok(units) = u32::try_from(units) else {
                state.inconsistent = true;
                continue;
            };
            state.taken = state.taken.saturating_add(u64::from(units));
            let held = state.per_user.entry(user_id).or_insert(0);
            *held = held.saturating_add(units);
        }
        for order in stored.reserved {
            state.hold(
                order.order_id,
                order.user_id,
                order.quantity,
                OrderStatus::Reserved,
                order.expires_at,
            );
        }
        if state.taken > state.total {
            state.inconsistent = true;
        }
        state
    }

    /// What the listing's orders hold, in the form storage gives it back (paid units per buyer,
    /// and each reserved order), in a fixed order so two equal states give equal values. Only
    /// meaningful with no change in flight: a snapshot is taken when the actor is quiet.
    pub fn holdings(&self) -> StoredHoldings {
        let mut reserved_units: IdMap<UserId, u32> = IdMap::default();
        let mut reserved: Vec<StoredOrder> = Vec::new();
        for (order_id, holding) in self.holdings.iter() {
            if holding.status != OrderStatus::Reserved {
                continue;
            }
            *reserved_units.entry(holding.user_id).or_insert(0) += holding.quantity;
            reserved.push(StoredOrder {
                order_id: *order_id,
                user_id: holding.user_id,
                quantity: holding.quantity,
                expires_at: holding.expires_at,
            });
        }
        let mut settled: Vec<(UserId, u64)> = self
            .per_user
            .iter()
            .map(|(user_id, held)| {
                let reserved = reserved_units.get(user_id).copied().unwrap_or(0);
                (*user_id, u64::from(held.saturating_sub(reserved)))
            })
            .filter(|(_, units)| *units > 0)
            .collect();
        settled.sort();
        reserved.sort_by_key(|order| order.order_id);
        StoredHoldings { settled, reserved }
    }

    /// About how many entries [`holdings`](Self::holdings) would hold (at most this many), without
    /// building them: what a snapshot costs to take and write.
    pub fn snapshot_entries(&self) -> usize {
        self.holdings.len() + self.per_user.len()
    }

    /// False when the stored totals contradicted each other at rehydration; the listing then
    /// refuses every reserve with [`ReserveError::Suspended`].
    pub fn is_consistent(&self) -> bool {
        !self.inconsistent
    }

    pub fn terms(&self) -> &ListingTerms {
        &self.terms
    }

    pub fn room_status(&self) -> RoomStatus {
        self.room_status
    }

    pub fn set_room_status(&mut self, status: RoomStatus) {
        self.room_status = status;
    }

    /// Units that can still be reserved (none when the totals are inconsistent).
    pub fn stock_left(&self) -> u64 {
        self.total.saturating_sub(self.taken)
    }

    /// Units held by reserved or paid orders.
    pub fn taken(&self) -> u64 {
        self.taken
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// Units the user's reserved and paid orders hold.
    pub fn held_by(&self, user_id: &UserId) -> u32 {
        self.per_user.get(user_id).copied().unwrap_or(0)
    }

    /// The one serialized step of the order path: idempotency, room, window, quantity, stock and
    /// the per-user limit, in that order, and on success the units are held at once.
    pub fn reserve(&mut self, req: ReserveRequest, now: DateTime<Utc>) -> Result<Reserved, ReserveError> {
        // Stored times have millisecond precision; answer with exactly what a later read returns.
        let now = crate::clock::to_whole_millis(now);
        if let Some(key) = &req.idempotency_key {
            if let Some(used) = self.keys.get(&req.user_id).and_then(|keys| keys.get(key.as_str())) {
                return if used.quantity == req.quantity {
                    Ok(Reserved::Replayed(used.order_id))
                } else {
                    Err(ReserveError::IdempotencyKeyReused)
                };
            }
        }
        if self.inconsistent {
            return Err(ReserveError::Suspended);
        }
        match self.room_status {
            RoomStatus::Scheduled => return Err(ReserveError::LiveNotStarted),
            RoomStatus::Ended => return Err(ReserveError::LiveEnded),
            RoomStatus::Live => {}
        }
        if self.terms.starts_at.is_some_and(|starts| now < starts) {
            return Err(ReserveError::SaleNotOpen);
        }
        if self.terms.ends_at.is_some_and(|ends| now >= ends) {
            return Err(ReserveError::SaleEnded);
        }
        if req.quantity == 0 || req.quantity > MAX_ORDER_QUANTITY {
            return Err(ReserveError::InvalidQuantity);
        }
        if u64::from(req.quantity) > self.stock_left() {
            return Err(ReserveError::SoldOut);
        }
        if self.held_by(&req.user_id).saturating_add(req.quantity) > self.terms.per_user_limit {
            return Err(ReserveError::LimitExceeded);
        }

        let expires_at = now + self.reservation_ttl;
        self.hold(
            req.order_id,
            req.user_id,
            req.quantity,
            OrderStatus::Reserved,
            expires_at,
        );
        if let Some(key) = &req.idempotency_key {
            let key_use = KeyUse {
                order_id: req.order_id,
                quantity: req.quantity,
            };
            self.keys.entry(req.user_id).or_default().insert(key.clone(), key_use);
        }
        let total_cents = self.terms.price_cents * i64::from(req.quantity);
        Ok(Reserved::New(Order {
            id: req.order_id,
            room_id: self.terms.room_id,
            listing_id: self.terms.listing_id,
            user_id: req.user_id,
            quantity: req.quantity,
            unit_price_cents: self.terms.price_cents,
            total_cents,
            status: OrderStatus::Reserved,
            idempotency_key: req.idempotency_key,
            expires_at,
            created_at: now,
        }))
    }

    /// Takes back a reservation whose commit failed: its units and its key are released as if it
    /// had never been made.
    pub fn undo_reserve(&mut self, order_id: OrderId) {
        if let Some(holding) = self.release(order_id) {
            if let Some(keys) = self.keys.get_mut(&holding.user_id) {
                keys.retain(|_, used| used.order_id != order_id);
            }
        }
    }

    /// Starts cancelling a reserved order. The stock stays held until `finish_cancel`, after the
    /// cancel has committed; `abort_cancel` puts the order back if it did not.
    pub fn begin_cancel(&mut self, order_id: OrderId) -> Result<(), CancelError> {
        let holding = self.holdings.get_mut(&order_id).ok_or(CancelError::UnknownOrder)?;
        if holding.status != OrderStatus::Reserved || holding.change.is_some() {
            return Err(CancelError::NotCancellable);
        }
        holding.change = Some(Change::Cancelling);
        Ok(())
    }

    /// The cancel committed: the units return to sale, exactly once.
    pub fn finish_cancel(&mut self, order_id: OrderId) {
        if self
            .holdings
            .get(&order_id)
            .is_some_and(|h| h.change == Some(Change::Cancelling))
        {
            self.release(order_id);
        }
    }

    pub fn abort_cancel(&mut self, order_id: OrderId) {
        if self
            .holdings
            .get(&order_id)
            .is_some_and(|h| h.change == Some(Change::Cancelling))
        {
            // Back to a plain reservation, due again at its deadline.
            self.settle(order_id);
        }
    }

    /// A committed restock: `added` more units are sellable.
    pub fn add_stock(&mut self, added: u32) {
        self.total = self.total.saturating_add(u64::from(added));
    }

    /// Who holds stock through this order, and how many units.
    pub fn holding(&self, order_id: &OrderId) -> Option<(UserId, u32)> {
        self.holdings.get(order_id).map(|h| (h.user_id, h.quantity))
    }

    fn hold(
        &mut self,
        order_id: OrderId,
        user_id: UserId,
        quantity: u32,
        status: OrderStatus,
        expires_at: DateTime<Utc>,
    ) {
        self.taken = self.taken.saturating_add(u64::from(quantity));
        let held = self.per_user.entry(user_id).or_insert(0);
        *held = held.saturating_add(quantity);
        let holding = Holding {
            user_id,
            quantity,
            status,
            expires_at,
            change: None,
        };
        self.holdings.insert(order_id, holding);
        if status == OrderStatus::Reserved {
            self.deadlines.push(Reverse((expires_at, order_id)));
        }
    }

    fn release(&mut self, order_id: OrderId) -> Option<Holding> {
        let holding = self.holdings.remove(&order_id)?;
        self.taken = self.taken.saturating_sub(u64::from(holding.quantity));
        if let Some(held) = self.per_user.get_mut(&holding.user_id) {
            *held = held.saturating_sub(holding.quantity);
            if *held == 0 {
                self.per_user.remove(&holding.user_id);
            }
        }
        Some(holding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::new_id;
    use proptest::prelude::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).expect("a valid timestamp")
    }

    fn terms(per_user_limit: u32) -> ListingTerms {
        ListingTerms {
            listing_id: new_id(),
            room_id: new_id(),
            price_cents: 1999,
            per_user_limit,
            starts_at: None,
            ends_at: None,
        }
    }

    fn live(total: u64, per_user_limit: u32) -> InventoryState {
        InventoryState::new(terms(per_user_limit), RoomStatus::Live, total, Duration::minutes(15))
    }

    fn request(user_id: UserId, quantity: u32) -> ReserveRequest {
        ReserveRequest {
            order_id: new_id(),
            user_id,
            quantity,
            idempotency_key: None,
        }
    }

    #[test]
    fn a_reservation_takes_stock_and_prices_the_order() {
        let mut state = live(10, 5);
        let user = new_id();
        let Ok(Reserved::New(order)) = state.reserve(request(user, 3), t0()) else {
            panic!("expected a new order");
        };
        assert_eq!(order.total_cents, 3 * 1999);
        assert_eq!(order.expires_at, t0() + Duration::minutes(15));
        assert_eq!(state.stock_left(), 7);
        assert_eq!(state.held_by(&user), 3);
    }

    #[test]
    fn the_room_must_be_live() {
        let mut state = live(10, 5);
        state.set_room_status(RoomStatus::Scheduled);
        assert_eq!(
            state.reserve(request(new_id(), 1), t0()),
            Err(ReserveError::LiveNotStarted)
        );
        state.set_room_status(RoomStatus::Ended);
        assert_eq!(state.reserve(request(new_id(), 1), t0()), Err(ReserveError::LiveEnded));
        assert_eq!(state.stock_left(), 10);
    }

    #[test]
    fn the_sale_window_is_judged_at_the_given_time() {
        let mut t = terms(5);
        t.starts_at = Some(t0());
        t.ends_at = Some(t0() + Duration::seconds(30));
        let mut state = InventoryState::new(t, RoomStatus::Live, 10, Duration::minutes(15));
        let before = t0() - Duration::seconds(1);
        assert_eq!(
            state.reserve(request(new_id(), 1), before),
            Err(ReserveError::SaleNotOpen)
        );
        assert!(state.reserve(request(new_id(), 1), t0()).is_ok());
        let after = t0() + Duration::seconds(30);
        assert_eq!(state.reserve(request(new_id(), 1), after), Err(ReserveError::SaleEnded));
    }

    #[test]
    fn absurd_quantities_are_refused() {
        let mut state = live(10, 5);
        assert_eq!(
            state.reserve(request(new_id(), 0), t0()),
            Err(ReserveError::InvalidQuantity)
        );
        let huge = request(new_id(), MAX_ORDER_QUANTITY + 1);
        assert_eq!(state.reserve(huge, t0()), Err(ReserveError::InvalidQuantity));
    }

    #[test]
    fn stock_and_the_per_user_limit_bound_every_buyer() {
        let mut state = live(3, 2);
        let (a, b) = (new_id(), new_id());
        assert!(state.reserve(request(a, 2), t0()).is_ok());
        assert_eq!(state.reserve(request(a, 1), t0()), Err(ReserveError::LimitExceeded));
        assert_eq!(state.reserve(request(b, 2), t0()), Err(ReserveError::SoldOut));
        assert!(state.reserve(request(b, 1), t0()).is_ok());
        assert_eq!(state.stock_left(), 0);
    }

    #[test]
    fn an_idempotency_key_replays_its_order_and_refuses_another_request() {
        let mut state = live(10, 5);
        let user = new_id();
        let mut first = request(user, 1);
        first.idempotency_key = Some("k1".into());
        let Ok(Reserved::New(order)) = state.reserve(first.clone(), t0()) else {
            panic!("expected a new order");
        };
        let mut again = first.clone();
        again.order_id = new_id();
        assert_eq!(state.reserve(again.clone(), t0()), Ok(Reserved::Replayed(order.id)));
        again.quantity = 2;
        assert_eq!(state.reserve(again, t0()), Err(ReserveError::IdempotencyKeyReused));
        assert_eq!(state.stock_left(), 9);
    }

    #[test]
    fn a_cancel_returns_stock_only_once_and_only_after_it_commits() {
        let mut state = live(10, 5);
        let user = new_id();
        let Ok(Reserved::New(order)) = state.reserve(request(user, 2), t0()) else {
            panic!("expected a new order");
        };
        state.begin_cancel(order.id).expect("cancellable");
        assert_eq!(state.stock_left(), 8, "stock is held until the cancel commits");
        assert_eq!(state.begin_cancel(order.id), Err(CancelError::NotCancellable));
        state.finish_cancel(order.id);
        state.finish_cancel(order.id);
        assert_eq!(state.stock_left(), 10);
        assert_eq!(state.held_by(&user), 0);
        assert_eq!(state.begin_cancel(order.id), Err(CancelError::UnknownOrder));
    }

    #[test]
    fn an_undone_reservation_frees_its_stock_and_its_key() {
        let mut state = live(1, 1);
        let user = new_id();
        let mut req = request(user, 1);
        req.idempotency_key = Some("k".into());
        assert!(state.reserve(req.clone(), t0()).is_ok());
        state.undo_reserve(req.order_id);
        assert_eq!(state.stock_left(), 1);
        let retry = ReserveRequest {
            order_id: new_id(),
            ..req
        };
        assert!(matches!(state.reserve(retry, t0()), Ok(Reserved::New(_))));
    }

    #[test]
    fn rehydration_rebuilds_stock_and_limits_from_aggregates() {
        let (user, other) = (new_id(), new_id());
        let kept = StoredOrder {
            order_id: new_id(),
            user_id: user,
            quantity: 1,
            expires_at: t0() + Duration::minutes(15),
        };
        let stored = StoredHoldings {
            settled: vec![(user, 1), (other, 2)],
            reserved: vec![kept.clone()],
        };
        let mut state = InventoryState::rehydrate(terms(2), RoomStatus::Live, 5, Duration::minutes(15), stored);
        assert!(state.is_consistent());
        assert_eq!(state.stock_left(), 1);
        assert_eq!(state.reserve(request(user, 1), t0()), Err(ReserveError::LimitExceeded));
        state
            .begin_cancel(kept.order_id)
            .expect("a stored reservation can be cancelled");
        state.finish_cancel(kept.order_id);
        assert_eq!(state.stock_left(), 2);
    }

    #[test]
    fn inconsistent_stored_totals_suspend_the_listing_instead_of_wrapping() {
        // More units held than were ever sellable: `total - taken` would wrap to a huge stock.
        let stored = StoredHoldings {
            settled: vec![(new_id(), 4)],
            reserved: vec![],
        };
        let mut state = InventoryState::rehydrate(terms(10), RoomStatus::Live, 3, Duration::minutes(15), stored);
        assert!(!state.is_consistent());
        assert_eq!(state.stock_left(), 0);
        assert_eq!(state.reserve(request(new_id(), 1), t0()), Err(ReserveError::Suspended));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Reserve {
            user: usize,
            quantity: u32,
            key: Option<u8>,
        },
        Undo {
            pick: usize,
        },
        Cancel {
            pick: usize,
            commits: bool,
        },
        Restock {
            added: u32,
        },
        /// Time passes; due reservations expire (their expiry commits or fails).
        Tick {
            minutes: i64,
            commits: bool,
        },
        /// A payment lands for an order, whatever it has become.
        Pay {
            pick: usize,
            commits: bool,
        },
    }

    /// What the orders table gives back for a listing, as the storage adapter reads it: paid
    /// units summed per buyer, and each order still reserved.
    fn rebuilt_from(stored: &HashMap<OrderId, (UserId, u32, OrderStatus, DateTime<Utc>)>) -> StoredHoldings {
        let mut paid: HashMap<UserId, u64> = HashMap::new();
        let mut reserved = Vec::new();
        for (order_id, &(user_id, quantity, status, expires_at)) in stored {
            match status {
                OrderStatus::Paid => *paid.entry(user_id).or_insert(0) += u64::from(quantity),
                OrderStatus::Reserved => reserved.push(StoredOrder {
                    order_id: *order_id,
                    user_id,
                    quantity,
                    expires_at,
                }),
                _ => {}
            }
        }
        let mut settled: Vec<(UserId, u64)> = paid.into_iter().collect();
        settled.sort();
        reserved.sort_by_key(|o| o.order_id);
        StoredHoldings { settled, reserved }
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..6usize, 0..5u32, proptest::option::of(0..4u8))
                .prop_map(|(user, quantity, key)| Op::Reserve { user, quantity, key }),
            1 => any::<usize>().prop_map(|pick| Op::Undo { pick }),
            2 => (any::<usize>(), any::<bool>()).prop_map(|(pick, commits)| Op::Cancel { pick, commits }),
            1 => (1..5u32).prop_map(|added| Op::Restock { added }),
            2 => (0..20i64, any::<bool>()).prop_map(|(minutes, commits)| Op::Tick { minutes, commits }),
            2 => (any::<usize>(), any::<bool>()).prop_map(|(pick, commits)| Op::Pay { pick, commits }),
        ]
    }

    proptest! {
        #[test]
        fn stock_is_conserved_and_limits_hold(initial in 0..20u64, limit in 1..4u32, ops in proptest::collection::vec(op(), 0..80)) {
            let users: Vec<UserId> = (0..6).map(|_| new_id()).collect();
            let mut state = live(initial, limit);
            let mut restocked = 0u64;
            let mut placed: Vec<OrderId> = Vec::new();
            let mut now = t0();
            // What storage would say of each order: its buyer, units and status.
            let mut stored: HashMap<OrderId, (UserId, u32, OrderStatus, DateTime<Utc>)> = HashMap::new();
            for op in ops {
                match op {
                    Op::Reserve { user, quantity, key } => {
                        let req = ReserveRequest {
                            order_id: new_id(),
                            user_id: users[user],
                            quantity,
                            idempotency_key: key.map(|k| format!("key-{k}")),
                        };
                        if let Ok(Reserved::New(order)) = state.reserve(req, now) {
                            placed.push(order.id);
                            stored.insert(order.id, (order.user_id, order.quantity, OrderStatus::Reserved, order.expires_at));
                        }
                    }
                    Op::Undo { pick } if !placed.is_empty() => {
                        let id = placed.swap_remove(pick % placed.len());
                        if stored.get(&id).is_some_and(|o| o.2 == OrderStatus::Reserved) {
                            state.undo_reserve(id);
                            stored.remove(&id);
                        }
                    }
                    Op::Cancel { pick, commits } if !placed.is_empty() => {
                        let id = placed[pick % placed.len()];
                        if state.begin_cancel(id).is_ok() {
                            if commits {
                                state.finish_cancel(id);
                                if let Some(o) = stored.get_mut(&id) { o.2 = OrderStatus::Cancelled }
                            } else {
                                state.abort_cancel(id)
                            }
                        }
                    }
                    Op::Tick { minutes, commits } => {
                        now += Duration::minutes(minutes);
                        for due in state.due_expiries(now) {
                            if commits {
                                state.finish_expire(due.order_id);
                                if let Some(o) = stored.get_mut(&due.order_id) { o.2 = OrderStatus::Expired }
                            } else {
                                state.abort_expire(due.order_id);
                            }
                        }
                    }
                    Op::Pay { pick, commits } if !placed.is_empty() => {
                        let id = placed[pick % placed.len()];
                        if let Some(&(user_id, quantity, status, _)) = stored.get(&id) {
                            let order = crate::inventory::StoredPayment { order_id: id, user_id, quantity, status };
                            if let Ok(plan) = state.begin_pay(order, now) {
                                if commits {
                                    state.finish_pay(id);
                                    let paid = if plan == crate::inventory::PayPlan::Refund { OrderStatus::Refunded } else { OrderStatus::Paid };
                                    if let Some(o) = stored.get_mut(&id) { o.2 = paid }
                                } else {
                                    state.abort_pay(id, plan);
                                }
                            }
                        }
                    }
                    Op::Restock { added } => {
                        state.add_stock(added);
                        restocked += u64::from(added);
                    }
                    _ => {}
                }
                let sold = state.taken();
                prop_assert_eq!(sold + state.stock_left(), initial + restocked);
                for user in &users {
                    prop_assert!(state.held_by(user) <= limit);
                }
                let held: u64 = users.iter().map(|u| u64::from(state.held_by(u))).sum();
                prop_assert_eq!(held, sold);
                // What storage holds matches what the state holds.
                let stored_held: u64 = stored.values().filter(|o| o.2.holds_stock()).map(|o| u64::from(o.1)).sum();
                prop_assert_eq!(stored_held, sold);
            }
            // Snapshot-then-restore equals rebuild-from-storage: the snapshot holds what the
            // orders table would give back, and a listing restored from either decides alike.
            let snapshot = state.holdings();
            let rebuilt = rebuilt_from(&stored);
            prop_assert_eq!(&snapshot, &rebuilt);
            let total = initial + restocked;
            let restore = |holdings: StoredHoldings| {
                InventoryState::rehydrate(state.terms().clone(), RoomStatus::Live, total, Duration::minutes(15), holdings)
            };
            let (mut from_snapshot, mut from_orders) = (restore(snapshot), restore(rebuilt));
            prop_assert_eq!(from_snapshot.stock_left(), state.stock_left());
            prop_assert_eq!(from_orders.stock_left(), state.stock_left());
            prop_assert_eq!(from_snapshot.holdings(), from_orders.holdings());
            prop_assert_eq!(from_snapshot.next_deadline(), from_orders.next_deadline());
            for user in &users {
                prop_assert_eq!(from_snapshot.held_by(user), state.held_by(user));
                let (a, b) = (request(*user, 1), request(*user, 1));
                let same_id = ReserveRequest { order_id: a.order_id, ..b };
                prop_assert_eq!(from_snapshot.reserve(a, now).is_ok(), from_orders.reserve(same_id, now).is_ok());
            }
            let later = now + Duration::days(1);
            let mut due_a: Vec<OrderId> = from_snapshot.due_expiries(later).iter().map(|e| e.order_id).collect();
            let mut due_b: Vec<OrderId> = from_orders.due_expiries(later).iter().map(|e| e.order_id).collect();
            due_a.sort();
            due_b.sort();
            prop_assert_eq!(due_a, due_b);
        }
    }
}
