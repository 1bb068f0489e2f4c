//! A reservation's life after it is made: it expires at its deadline unless paid, and a payment
//! that lands after the expiry takes the stock again if some is left, or is refunded.
//!
//! The same durability rule as the rest of the state holds: stock that comes back (an expiry)
//! returns only once the expiry commits; stock that is taken (a late payment reserving again)
//! is taken at once and given back if the commit fails.

use super::{Change, Holding, InventoryState};
use crate::ids::{OrderId, UserId};
use crate::order::OrderStatus;
use chrono::{DateTime, Utc};
use std::cmp::Reverse;

/// A reservation whose deadline has passed; its expiry is on its way to the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiring {
    pub order_id: OrderId,
    pub user_id: UserId,
    pub quantity: u32,
}

/// An order being paid, as storage has it: the listing may no longer hold it in memory (it
/// expired or was cancelled, or it was paid before this incarnation started).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredPayment {
    pub order_id: OrderId,
    pub user_id: UserId,
    pub quantity: u32,
    pub status: OrderStatus,
}

/// What a successful payment does to the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayPlan {
    /// The reservation still holds its stock: it becomes paid.
    Capture,
    /// It expired or was cancelled and enough stock is left: it is reserved again and paid.
    Rereserve,
    /// It expired or was cancelled and its units are gone (or the buyer is at the limit): the
    /// payment is given back and the order ends `refunded`.
    Refund,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PayError {
    #[error("the order is already paid")]
    AlreadyPaid,
    #[error("the order is already refunded")]
    AlreadyRefunded,
    /// Another change of the order is being made durable: try again in a moment.
    #[error("the order is changing; retry")]
    Busy,
}

impl InventoryState {
    /// Reservations whose deadline is `now` or earlier, each marked as expiring. Their stock is
    /// still held until [`finish_expire`](Self::finish_expire).
    pub fn due_expiries(&mut self, now: DateTime<Utc>) -> Vec<Expiring> {
        self.due_expiries_at_most(now, usize::MAX)
    }

    /// [`due_expiries`](Self::due_expiries), the earliest `most` of them: the rest stay due for
    /// a later call. A sale's unpaid reservations all fall due together, a listing's whole
    /// sale at once, and the actor takes them in slices the journal can carry beside the orders.
    pub fn due_expiries_at_most(&mut self, now: DateTime<Utc>, most: usize) -> Vec<Expiring> {
        let mut due = Vec::new();
        while let Some(&Reverse((deadline, order_id))) = self.deadlines.peek() {
            if deadline > now || due.len() >= most {
                break;
            }
            self.deadlines.pop();
            let Some(holding) = self.holdings.get_mut(&order_id) else {
                continue;
            };
            // Stale entries (paid, or a newer deadline) and orders with a change in flight are
            // skipped; a change that fails puts its order's deadline back.
            if holding.status != OrderStatus::Reserved || holding.expires_at != deadline || holding.change.is_some() {
                continue;
            }
            holding.change = Some(Change::Expiring);
            due.push(Expiring {
                order_id,
                user_id: holding.user_id,
                quantity: holding.quantity,
            });
        }
        due
    }

    /// The expiry committed: the units return to sale, exactly once.
    pub fn finish_expire(&mut self, order_id: OrderId) {
        if self.changing(order_id, Change::Expiring) {
            self.release(order_id);
        }
    }

    /// The expiry did not commit: the order holds its stock and is due again.
    pub fn abort_expire(&mut self, order_id: OrderId) {
        if self.changing(order_id, Change::Expiring) {
            self.settle(order_id);
        }
    }

    /// Whether some reservation still waits for payment or expiry: such a listing must keep
    /// running, or its deadline would pass unnoticed.
    pub fn has_reservations(&self) -> bool {
        self.holdings.values().any(|h| h.status == OrderStatus::Reserved)
    }

    /// The earliest deadline still queued (possibly stale).
    pub fn next_deadline(&self) -> Option<DateTime<Utc>> {
        self.deadlines.peek().map(|Reverse((at, _))| *at)
    }

    /// Decides what a successful payment does; a capture or a re-reservation holds the stock
    /// from now on and is settled by [`finish_pay`](Self::finish_pay) or
    /// [`abort_pay`](Self::abort_pay).
    pub fn begin_pay(&mut self, order: StoredPayment, now: DateTime<Utc>) -> Result<PayPlan, PayError> {
        if let Some(holding) = self.holdings.get_mut(&order.order_id) {
            if holding.change.is_some() {
                return Err(PayError::Busy);
            }
            if holding.status == OrderStatus::Paid {
                return Err(PayError::AlreadyPaid);
            }
            // Still reserved, even past its deadline if the expiry has not run: its own units
            // are there, so it is paid.
            holding.change = Some(Change::Paying);
            return Ok(PayPlan::Capture);
        }
        match order.status {
            OrderStatus::Paid => Err(PayError::AlreadyPaid),
            OrderStatus::Refunded => Err(PayError::AlreadyRefunded),
            // Stored as reserved but not held here: its reservation is being written by an
            // earlier incarnation or was fenced off; the payment is tried again later.
            OrderStatus::Reserved => Err(PayError::Busy),
            OrderStatus::Expired | OrderStatus::Cancelled => {
                let fits = u64::from(order.quantity) <= self.stock_left()
                    && self.held_by(&order.user_id).saturating_add(order.quantity) <= self.terms.per_user_limit
                    && self.is_consistent();
                if !fits {
                    return Ok(PayPlan::Refund);
                }
                self.hold(order.order_id, order.user_id, order.quantity, OrderStatus::Paid, now);
                if let Some(holding) = self.holdings.get_mut(&order.order_id) {
                    holding.change = Some(Change::Paying);
                }
                Ok(PayPlan::Rereserve)
            }
        }
    }

    /// The payment committed: the order is paid and keeps its units for good.
    pub fn finish_pay(&mut self, order_id: OrderId) {
        if self.changing(order_id, Change::Paying) {
            if let Some(holding) = self.holdings.get_mut(&order_id) {
                holding.status = OrderStatus::Paid;
                holding.change = None;
            }
        }
    }

    /// The payment did not commit: a capture is a reservation again (due at its deadline), a
    /// re-reservation gives its units back.
    pub fn abort_pay(&mut self, order_id: OrderId, plan: PayPlan) {
        if !self.changing(order_id, Change::Paying) {
            return;
        }
        match plan {
            PayPlan::Capture => self.settle(order_id),
            PayPlan::Rereserve => {
                self.release(order_id);
            }
            PayPlan::Refund => {}
        }
    }

    fn changing(&self, order_id: OrderId, change: Change) -> bool {
        self.holdings.get(&order_id).is_some_and(|h| h.change == Some(change))
    }

    /// Clears a failed change from a reservation and puts its deadline back in the queue.
    pub(super) fn settle(&mut self, order_id: OrderId) {
        if let Some(holding) = self.holdings.get_mut(&order_id) {
            holding.change = None;
            requeue(&mut self.deadlines, order_id, holding);
        }
    }
}

fn requeue(
    deadlines: &mut std::collections::BinaryHeap<Reverse<(DateTime<Utc>, OrderId)>>,
    order_id: OrderId,
    holding: &Holding,
) {
    if holding.status == OrderStatus::Reserved {
        deadlines.push(Reverse((holding.expires_at, order_id)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::new_id;
    use crate::inventory::{ListingTerms, ReserveRequest, Reserved};
    use crate::order::Order;
    use crate::room::RoomStatus;
    use chrono::Duration;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).expect("a valid timestamp")
    }

    fn listing(total: u64, limit: u32) -> InventoryState {
        let terms = ListingTerms {
            listing_id: new_id(),
            room_id: new_id(),
            price_cents: 100,
            per_user_limit: limit,
            starts_at: None,
            ends_at: None,
        };
        InventoryState::new(terms, RoomStatus::Live, total, Duration::minutes(15))
    }

    fn reserve(state: &mut InventoryState, user: UserId, quantity: u32, at: DateTime<Utc>) -> Order {
        let req = ReserveRequest {
            order_id: new_id(),
            user_id: user,
            quantity,
            idempotency_key: None,
        };
        match state.reserve(req, at) {
            Ok(Reserved::New(order)) => order,
            other => panic!("expected a reservation, got {other:?}"),
        }
    }

    fn stored(order: &Order, status: OrderStatus) -> StoredPayment {
        StoredPayment {
            order_id: order.id,
            user_id: order.user_id,
            quantity: order.quantity,
            status,
        }
    }

    #[test]
    fn a_reservation_expires_at_its_deadline_and_its_stock_returns_once() {
        let mut state = listing(3, 3);
        let order = reserve(&mut state, new_id(), 2, t0());
        assert!(state
            .due_expiries(t0() + Duration::minutes(15) - Duration::milliseconds(1))
            .is_empty());
        let due = state.due_expiries(t0() + Duration::minutes(15));
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].order_id, order.id);
        assert_eq!(state.stock_left(), 1, "held until the expiry commits");
        assert!(
            state.due_expiries(t0() + Duration::hours(1)).is_empty(),
            "never due twice"
        );
        state.finish_expire(order.id);
        state.finish_expire(order.id);
        assert_eq!(state.stock_left(), 3);
        assert_eq!(state.held_by(&order.user_id), 0);
    }

    #[test]
    fn a_failed_expiry_keeps_the_stock_and_is_due_again() {
        let mut state = listing(3, 3);
        let order = reserve(&mut state, new_id(), 1, t0());
        let late = t0() + Duration::minutes(20);
        assert_eq!(state.due_expiries(late).len(), 1);
        state.abort_expire(order.id);
        assert_eq!(state.stock_left(), 2);
        assert_eq!(state.due_expiries(late).len(), 1, "due again on the next tick");
    }

    #[test]
    fn a_paid_reservation_never_expires() {
        let mut state = listing(3, 3);
        let order = reserve(&mut state, new_id(), 1, t0());
        assert_eq!(
            state.begin_pay(stored(&order, OrderStatus::Reserved), t0()),
            Ok(PayPlan::Capture)
        );
        assert!(
            state.due_expiries(t0() + Duration::hours(1)).is_empty(),
            "not while paying"
        );
        state.finish_pay(order.id);
        assert!(state.due_expiries(t0() + Duration::hours(2)).is_empty());
        assert_eq!(state.stock_left(), 2);
        assert_eq!(
            state.begin_pay(stored(&order, OrderStatus::Reserved), t0()),
            Err(PayError::AlreadyPaid)
        );
    }

    #[test]
    fn a_failed_capture_is_a_reservation_again_and_still_expires() {
        let mut state = listing(3, 3);
        let order = reserve(&mut state, new_id(), 1, t0());
        let late = t0() + Duration::minutes(16);
        assert_eq!(
            state.begin_pay(stored(&order, OrderStatus::Reserved), t0()),
            Ok(PayPlan::Capture)
        );
        assert!(state.due_expiries(late).is_empty());
        state.abort_pay(order.id, PayPlan::Capture);
        assert_eq!(state.due_expiries(late).len(), 1);
    }

    #[test]
    fn a_late_payment_reserves_again_when_stock_is_left_and_is_refunded_when_not() {
        let mut state = listing(1, 1);
        let first = reserve(&mut state, new_id(), 1, t0());
        let late = t0() + Duration::minutes(16);
        state.due_expiries(late);
        state.finish_expire(first.id);
        assert_eq!(state.stock_left(), 1);
        assert_eq!(
            state.begin_pay(stored(&first, OrderStatus::Expired), late),
            Ok(PayPlan::Rereserve)
        );
        assert_eq!(state.stock_left(), 0, "taken at once");
        state.finish_pay(first.id);
        assert_eq!(state.stock_left(), 0);

        let mut state = listing(1, 1);
        let second = reserve(&mut state, new_id(), 1, t0());
        state.due_expiries(late);
        state.finish_expire(second.id);
        reserve(&mut state, new_id(), 1, late);
        assert_eq!(
            state.begin_pay(stored(&second, OrderStatus::Expired), late),
            Ok(PayPlan::Refund)
        );
        assert_eq!(state.stock_left(), 0, "never sold more than the stock");
    }

    #[test]
    fn a_failed_re_reservation_gives_its_units_back() {
        let mut state = listing(2, 2);
        let order = reserve(&mut state, new_id(), 1, t0());
        state.begin_cancel(order.id).expect("cancellable");
        state.finish_cancel(order.id);
        assert_eq!(
            state.begin_pay(stored(&order, OrderStatus::Cancelled), t0()),
            Ok(PayPlan::Rereserve)
        );
        state.abort_pay(order.id, PayPlan::Rereserve);
        assert_eq!(state.stock_left(), 2);
    }

    #[test]
    fn nothing_starts_on_an_order_while_a_change_is_in_flight() {
        let mut state = listing(2, 2);
        let order = reserve(&mut state, new_id(), 1, t0());
        state.begin_cancel(order.id).expect("cancellable");
        assert_eq!(
            state.begin_pay(stored(&order, OrderStatus::Reserved), t0()),
            Err(PayError::Busy)
        );
        assert!(state.due_expiries(t0() + Duration::hours(1)).is_empty());
        state.abort_cancel(order.id);
        assert_eq!(
            state.due_expiries(t0() + Duration::hours(1)).len(),
            1,
            "a failed cancel leaves the reservation due"
        );
    }
}
