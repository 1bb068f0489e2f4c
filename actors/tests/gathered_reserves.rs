//! Reserves gathered per thread (`inventory::reserve`): sent together from one thread to an
//! actor on another, each is decided as a `Reserve` of its own and answered exactly once, a
//! reserve whose caller gave up before the actor read it is not decided (as actix skips such a
//! `send`), and a gathering that cannot reach its actor answers `Closed` instead of leaving its
//! callers waiting.

use actix::{Actor, Arbiter};
use futures_util::future::join_all;
use livecart_actors::ids::new_id;
use livecart_actors::inventory::{
    self, InventoryActor, InventoryState, ListingTerms, Placed, Reserve, ReserveError, ReserveFailed, ReserveRequest,
    Snapshot,
};
use livecart_actors::journal::{Journal, JournalEntry, JournalError, Listener};
use livecart_actors::lease::Fence;
use livecart_actors::room::RoomStatus;
use livecart_actors::{Clock, RoomId, SystemClock, UserId};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Commits every entry at once, as a batch of one, and counts them.
#[derive(Default)]
struct CountingJournal(AtomicUsize);

impl Journal for CountingJournal {
    fn append(&self, _fence: Fence, _entry: JournalEntry, listener: &Listener) -> Result<(), JournalError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        listener.committed(vec![Ok(())]);
        Ok(())
    }
}

const STOCK: u64 = 100;
const PER_USER_LIMIT: u32 = 2;

/// The system's time, counting how often it is read.
#[derive(Default)]
struct CountedClock(AtomicUsize);

impl Clock for CountedClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.fetch_add(1, Ordering::SeqCst);
        SystemClock.now()
    }
}

/// A live flash listing on an arbiter of its own, as the server runs it.
fn listing_on(arbiter: &Arbiter, journal: Arc<CountingJournal>) -> (actix::Addr<InventoryActor>, RoomId) {
    listing_with_clock(arbiter, journal, Arc::new(SystemClock))
}

fn listing_with_clock(
    arbiter: &Arbiter,
    journal: Arc<CountingJournal>,
    clock: Arc<dyn Clock>,
) -> (actix::Addr<InventoryActor>, RoomId) {
    let room_id = new_id();
    let terms = ListingTerms {
        listing_id: new_id(),
        room_id,
        price_cents: 500,
        per_user_limit: PER_USER_LIMIT,
        starts_at: None,
        ends_at: None,
    };
    let state = InventoryState::new(terms, RoomStatus::Live, STOCK, chrono::Duration::minutes(15));
    let fence = Fence { room_id, epoch: 1 };
    let actor = InventoryActor::new(state, fence, journal, clock, None);
    (InventoryActor::start_in_arbiter(&arbiter.handle(), |_| actor), room_id)
}

fn one_unit(user_id: UserId, key: Option<&str>) -> ReserveRequest {
    ReserveRequest {
        order_id: new_id(),
        user_id,
        quantity: 1,
        idempotency_key: key.map(str::to_owned),
    }
}

#[actix_rt::test]
async fn reserves_sent_together_are_each_decided_and_answered_once() {
    let arbiter = Arbiter::new();
    let journal = Arc::new(CountingJournal::default());
    let (listing, room_id) = listing_on(&arbiter, journal.clone());
    let buyers: Vec<UserId> = (0..100).map(|_| new_id()).collect();

    // Three tries per buyer in one turn of this thread: more than the stock, and one more than
    // each buyer may hold.
    let tries = buyers
        .iter()
        .cycle()
        .take(buyers.len() * 3)
        .map(|&buyer| inventory::reserve(&listing, Reserve::new(room_id, one_unit(buyer, None))));
    let answers = join_all(tries).await;

    let mut orders = HashSet::new();
    let mut held_by: std::collections::HashMap<UserId, u32> = Default::default();
    let (mut sold_out, mut over_limit) = (0, 0);
    for answer in answers {
        match answer.expect("the actor is running") {
            Ok(Placed::New(order)) => {
                assert!(orders.insert(order.id), "an order answered twice");
                *held_by.entry(order.user_id).or_default() += order.quantity;
            }
            Err(ReserveFailed::Refused(ReserveError::SoldOut)) => sold_out += 1,
            Err(ReserveFailed::Refused(ReserveError::LimitExceeded)) => over_limit += 1,
            other => panic!("unexpected answer: {other:?}"),
        }
    }
    let left = listing.send(Snapshot).await.expect("the actor is running").stock_left;
    assert_eq!(orders.len() as u64 + left, STOCK, "sold + left == initial");
    assert_eq!(left, 0, "more tries than stock sells out");
    assert_eq!(
        orders.len(),
        journal.0.load(Ordering::SeqCst),
        "every order journaled once"
    );
    assert!(held_by.values().all(|&units| units <= PER_USER_LIMIT));
    assert_eq!(
        orders.len() + sold_out + over_limit,
        buyers.len() * 3,
        "every try answered"
    );
    arbiter.stop();
}

#[actix_rt::test]
async fn a_key_sent_twice_in_one_gathering_places_one_order() {
    let arbiter = Arbiter::new();
    let journal = Arc::new(CountingJournal::default());
    let (listing, room_id) = listing_on(&arbiter, journal.clone());
    let buyer = new_id();

    let first = inventory::reserve(&listing, Reserve::new(room_id, one_unit(buyer, Some("k-1"))));
    let again = inventory::reserve(&listing, Reserve::new(room_id, one_unit(buyer, Some("k-1"))));
    let (first, again) = futures_util::join!(first, again);

    let Ok(Ok(Placed::New(order))) = first else {
        panic!("the first try places the order: {first:?}");
    };
    assert_eq!(again.expect("the actor is running"), Ok(Placed::Replayed(order.id)));
    assert_eq!(journal.0.load(Ordering::SeqCst), 1, "one order journaled");
    arbiter.stop();
}

#[actix_rt::test]
async fn a_gathering_for_a_stopped_actor_answers_closed() {
    let arbiter = Arbiter::new();
    let (listing, room_id) = listing_on(&arbiter, Arc::default());
    arbiter.stop();
    arbiter.join().expect("the arbiter stopped");

    let tries = (0..3).map(|_| inventory::reserve(&listing, Reserve::new(room_id, one_unit(new_id(), None))));
    let answers = tokio::time::timeout(std::time::Duration::from_secs(5), join_all(tries))
        .await
        .expect("answered, not left waiting");
    for answer in answers {
        assert_eq!(answer, Err(actix::MailboxError::Closed));
    }
}

#[actix_rt::test]
async fn a_reserve_whose_caller_gave_up_before_the_actor_read_it_is_not_decided() {
    let arbiter = Arbiter::new();
    let journal = Arc::new(CountingJournal::default());
    let (listing, room_id) = listing_on(&arbiter, journal.clone());
    // The listing's thread is busy long enough for the caller's deadline to pass.
    arbiter.spawn(async { std::thread::sleep(std::time::Duration::from_millis(300)) });

    let late = tokio::time::timeout(
        std::time::Duration::from_millis(50),
        inventory::reserve(&listing, Reserve::new(room_id, one_unit(new_id(), None))),
    )
    .await;
    assert!(late.is_err(), "the caller gave up before an answer: {late:?}");

    let on_time = inventory::reserve(&listing, Reserve::new(room_id, one_unit(new_id(), None))).await;
    assert!(matches!(on_time, Ok(Ok(Placed::New(_)))), "{on_time:?}");
    let left = listing.send(Snapshot).await.expect("the actor is running").stock_left;
    assert_eq!(left, STOCK - 1, "only the order someone waited for was made");
    assert_eq!(journal.0.load(Ordering::SeqCst), 1);
    arbiter.stop();
}

#[actix_rt::test]
async fn the_reserves_of_one_gathering_are_decided_at_one_reading_of_the_clock() {
    let arbiter = Arbiter::new();
    let journal = Arc::new(CountingJournal::default());
    let clock = Arc::new(CountedClock::default());
    let (listing, room_id) = listing_with_clock(&arbiter, journal.clone(), clock.clone());
    // The actor's first tick and its start read the clock too: let them pass first.
    let warm = inventory::reserve(&listing, Reserve::new(room_id, one_unit(new_id(), None))).await;
    assert!(matches!(warm, Ok(Ok(Placed::New(_)))), "{warm:?}");
    let before = clock.0.load(Ordering::SeqCst);

    let gathered = (0..50).map(|_| inventory::reserve(&listing, Reserve::new(room_id, one_unit(new_id(), None))));
    let answers = join_all(gathered).await;

    assert!(
        answers.iter().all(|a| matches!(a, Ok(Ok(Placed::New(_))))),
        "{answers:?}"
    );
    let reads = clock.0.load(Ordering::SeqCst) - before;
    // One for the message; a tick of the actor's timers may fall in between.
    assert!(
        reads <= 3,
        "the clock was read {reads} times for 50 reserves sent together"
    );
}
