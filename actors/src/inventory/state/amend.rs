//! Changes to the listing itself: new terms and stock while nobody has ordered from it, and an
//! early end of its sale, which stands whatever was sold.

use super::{InventoryState, ListingTerms};
use chrono::{DateTime, Utc};

impl InventoryState {
    /// Whether anything was ever ordered here, as far as this incarnation knows: units held or
    /// paid (from storage or since), or a key of an order made since start, even one cancelled
    /// since. Older cancelled orders are storage's to know.
    pub fn has_orders(&self) -> bool {
        self.taken > 0 || !self.holdings.is_empty() || !self.per_user.is_empty() || !self.keys.is_empty()
    }

    /// New terms and stock for a listing without orders; its ids stay.
    pub fn amend(&mut self, terms: ListingTerms, total: u64) {
        debug_assert!(!self.has_orders(), "only a listing without orders is amended");
        self.terms = ListingTerms {
            listing_id: self.terms.listing_id,
            room_id: self.terms.room_id,
            ..terms
        };
        self.total = total;
    }

    /// The sale ends at `at`: a reserve from then on is refused as `SaleEnded`. A window that
    /// already ended earlier keeps its end.
    pub fn close_sale(&mut self, at: DateTime<Utc>) {
        // To the millisecond, as stored and as `reserve` reads the time: a reserve in the same
        // millisecond as the close is refused too.
        let at = DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at);
        self.terms.ends_at = Some(self.terms.ends_at.map_or(at, |ends| ends.min(at)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::state::{ReserveError, ReserveRequest};
    use crate::room::RoomStatus;
    use uuid::Uuid;

    fn listing(stock: u64) -> InventoryState {
        let terms = ListingTerms {
            listing_id: Uuid::new_v4(),
            room_id: Uuid::new_v4(),
            price_cents: 100,
            per_user_limit: 5,
            starts_at: None,
            ends_at: None,
        };
        InventoryState::new(terms, RoomStatus::Live, stock, chrono::Duration::minutes(15))
    }

    fn request(quantity: u32) -> ReserveRequest {
        ReserveRequest {
            order_id: Uuid::new_v4(),
            user_id: Uuid::new_v4(),
            quantity,
            idempotency_key: None,
        }
    }

    #[test]
    fn an_amended_listing_sells_by_its_new_terms_and_keeps_its_ids() {
        let mut state = listing(10);
        let ids = (state.terms().listing_id, state.terms().room_id);
        assert!(!state.has_orders());
        let terms = ListingTerms {
            listing_id: Uuid::new_v4(),
            room_id: Uuid::new_v4(),
            price_cents: 250,
            per_user_limit: 2,
            starts_at: None,
            ends_at: None,
        };
        state.amend(terms, 3);
        assert_eq!((state.terms().listing_id, state.terms().room_id), ids);
        assert_eq!((state.terms().price_cents, state.stock_left()), (250, 3));
        assert_eq!(state.reserve(request(3), Utc::now()), Err(ReserveError::LimitExceeded));
        state.reserve(request(2), Utc::now()).expect("within the new limit");
        assert!(state.has_orders());
    }

    #[test]
    fn a_cancelled_order_of_this_incarnation_still_counts_as_an_order() {
        let mut state = listing(10);
        let mut req = request(1);
        req.idempotency_key = Some("k".into());
        let order_id = req.order_id;
        state.reserve(req, Utc::now()).expect("reserved");
        state.begin_cancel(order_id).expect("cancelling");
        state.finish_cancel(order_id);
        assert_eq!(state.stock_left(), 10);
        assert!(state.has_orders(), "an order was made, though nothing is held");
    }

    #[test]
    fn a_closed_sale_refuses_as_ended_and_an_earlier_end_stays() {
        let mut state = listing(10);
        let now = DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).expect("valid")
            + chrono::Duration::microseconds(700);
        state.close_sale(now);
        assert_eq!(state.reserve(request(1), now), Err(ReserveError::SaleEnded));
        state.close_sale(now + chrono::Duration::hours(1));
        assert_eq!(
            state.terms().ends_at.map(|e| e.timestamp_millis()),
            Some(now.timestamp_millis()),
            "closing again never reopens"
        );
    }
}
