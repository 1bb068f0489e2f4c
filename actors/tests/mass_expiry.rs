//! A sale's unpaid reservations fall due together, fifteen minutes after it: the listing
//! expires them a bounded slice at a time, as fast as the journal answers, so the journal's
//! queue is never filled ahead of the orders and no expiry keeps a future of its own. The
//! journal here holds every entry until the test answers them as one batch.

use chrono::{DateTime, Duration, Utc};
use livecart_actors::ids::new_id;
use livecart_actors::inventory::{InventoryActor, InventoryState, Placed, Reserve, ReserveRequest, Snapshot};
use livecart_actors::journal::{JournalEntry, JournalError};
use livecart_actors::lease::Fence;
use livecart_actors::room::RoomStatus;
use livecart_actors::{ManualClock, OrderId, RoomId};
use std::collections::HashSet;
use std::sync::Arc;

/// Reservations of the sale: more than the listing keeps in flight at once.
const SOLD: u64 = 2_000;

/// Expiries a listing has in flight at most (`EXPIRIES_IN_FLIGHT` in the actor).
const IN_FLIGHT: usize = 64;

mod support;
use support::HeldJournal;

/// Entries the listing has sent and the test not answered yet.
fn held_count(journal: &HeldJournal) -> usize {
    journal.entries().len()
}

/// Answers everything held as one batch, each entry with `outcome`; the orders of the expiries
/// among them.
fn release(journal: &HeldJournal, outcome: Result<(), JournalError>) -> Vec<OrderId> {
    let outcomes = vec![outcome; held_count(journal)];
    journal
        .release(outcomes)
        .into_iter()
        .filter_map(|entry| match entry {
            JournalEntry::OrderExpired { order_id, .. } => Some(order_id),
            _ => None,
        })
        .collect()
}

/// Waits (on real time: the actor's expiry tick) until the listing has sent something.
async fn wait_for_entries(journal: &HeldJournal) -> usize {
    for _ in 0..400 {
        let held = held_count(journal);
        if held > 0 {
            return held;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the listing sent nothing to the journal within 10 s");
}

/// A live listing with `SOLD` units, every one reserved by its own buyer and committed.
async fn sold_out_sale(journal: Arc<HeldJournal>, clock: Arc<ManualClock>) -> (actix::Addr<InventoryActor>, RoomId) {
    use actix::Actor;
    let room_id = new_id();
    let terms = support::open_terms(room_id);
    let state = InventoryState::new(terms, RoomStatus::Live, SOLD, Duration::minutes(15));
    let fence = Fence { room_id, epoch: 1 };
    let inventory = InventoryActor::new(state, fence, journal.clone(), clock, None).start();
    // Spawned: a send past the mailbox's capacity waits until it is polled.
    let replies: Vec<_> = (0..SOLD)
        .map(|_| actix_rt::spawn(inventory.send(Reserve::new(room_id, request()))))
        .collect();
    while held_count(&journal) < SOLD as usize {
        actix_rt::task::yield_now().await;
    }
    release(&journal, Ok(()));
    for reply in replies {
        let placed = reply.await.expect("the send ran").expect("mailbox");
        assert!(matches!(placed, Ok(Placed::New(_))), "{placed:?}");
    }
    (inventory, room_id)
}

fn request() -> ReserveRequest {
    support::one_unit_for_a_new_buyer()
}

fn start() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).expect("valid")
}

async fn stock_left(inventory: &actix::Addr<InventoryActor>) -> u64 {
    inventory.send(Snapshot).await.expect("mailbox").stock_left
}

#[actix_rt::test]
async fn a_sales_reservations_falling_due_together_expire_a_bounded_slice_at_a_time_each_once() {
    let journal = Arc::new(HeldJournal::default());
    let clock = Arc::new(ManualClock::new(start()));
    let (inventory, _room_id) = sold_out_sale(journal.clone(), clock.clone()).await;
    assert_eq!(stock_left(&inventory).await, 0);

    clock.advance(Duration::minutes(15) + Duration::seconds(1));
    let mut expired = HashSet::new();
    while expired.len() < SOLD as usize {
        let held = wait_for_entries(&journal).await;
        assert!(
            held <= IN_FLIGHT,
            "{held} expiries in flight at once, at most {IN_FLIGHT}"
        );
        // Nothing more is sent while these wait for their commit.
        actix_rt::task::yield_now().await;
        assert_eq!(held_count(&journal), held, "more expiries sent before any was answered");
        for order_id in release(&journal, Ok(())) {
            assert!(expired.insert(order_id), "order {order_id} expired twice");
        }
    }
    assert_eq!(stock_left(&inventory).await, SOLD, "every unit is back on sale once");
    actix_rt::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(held_count(&journal), 0, "nothing left to expire after a tick");
}

#[actix_rt::test]
async fn expiries_the_journal_refused_are_tried_again_on_the_next_tick_not_at_once() {
    let journal = Arc::new(HeldJournal::default());
    let clock = Arc::new(ManualClock::new(start()));
    let (inventory, _room_id) = sold_out_sale(journal.clone(), clock.clone()).await;

    clock.advance(Duration::minutes(15) + Duration::seconds(1));
    let first = wait_for_entries(&journal).await;
    assert_eq!(first, IN_FLIGHT);
    let refused = release(&journal, Err(JournalError::Unavailable("disk on fire".into())));
    assert_eq!(refused.len(), IN_FLIGHT);
    // The refused ones hold their stock and are due again; the slice's room is free again.
    assert_eq!(stock_left(&inventory).await, 0);
    assert_eq!(held_count(&journal), 0, "a refused slice is not retried in a loop");
    let retried = wait_for_entries(&journal).await;
    assert_eq!(retried, IN_FLIGHT, "the next tick sends a full slice again");
    let mut expired: HashSet<OrderId> = release(&journal, Ok(())).into_iter().collect();
    while expired.len() < SOLD as usize {
        wait_for_entries(&journal).await;
        expired.extend(release(&journal, Ok(())));
    }
    assert_eq!(stock_left(&inventory).await, SOLD);
}
