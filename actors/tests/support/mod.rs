//! Fakes shared by the actor tests (each test file includes this module with `mod support;`).
// Each test file is a crate of its own and uses only some of these.
#![allow(dead_code)]

use livecart_actors::ids::new_id;
use livecart_actors::inventory::{ListingTerms, ReserveRequest};
use livecart_actors::journal::{tell_listeners, Journal, JournalEntry, JournalError, Listener, Outcome};
use livecart_actors::lease::Fence;
use livecart_actors::RoomId;
use std::sync::{Mutex, MutexGuard};

/// A journal that holds every entry until the test answers them all as one batch.
#[derive(Default)]
pub struct HeldJournal {
    held: Mutex<Vec<(Listener, JournalEntry)>>,
}

impl Journal for HeldJournal {
    fn append(&self, _fence: Fence, entry: JournalEntry, listener: &Listener) -> Result<(), JournalError> {
        self.entries().push((listener.clone(), entry));
        Ok(())
    }
}

impl HeldJournal {
    /// The entries held, in append order, with who appended each.
    pub fn entries(&self) -> MutexGuard<'_, Vec<(Listener, JournalEntry)>> {
        self.held.lock().expect("journal lock")
    }

    /// Answers every held entry as one batch, the i-th with `outcomes[i]`; returns the entries.
    pub fn release(&self, outcomes: Vec<Outcome>) -> Vec<JournalEntry> {
        let held = std::mem::take(&mut *self.entries());
        assert_eq!(held.len(), outcomes.len(), "one outcome per held entry");
        let (listeners, entries): (Vec<_>, Vec<_>) = held.into_iter().unzip();
        tell_listeners(listeners, outcomes);
        entries
    }
}

/// A new listing of `room_id` at 5.00, at most 5 units per buyer, open as soon as the room is live.
pub fn open_terms(room_id: RoomId) -> ListingTerms {
    ListingTerms {
        listing_id: new_id(),
        room_id,
        price_cents: 500,
        per_user_limit: 5,
        starts_at: None,
        ends_at: None,
    }
}

/// One unit for a new buyer, without an idempotency key.
pub fn one_unit_for_a_new_buyer() -> ReserveRequest {
    ReserveRequest {
        order_id: new_id(),
        user_id: new_id(),
        quantity: 1,
        idempotency_key: None,
    }
}
