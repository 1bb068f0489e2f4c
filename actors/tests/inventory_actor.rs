//! The InventoryActor with its ports faked: a journal that can fail and a clock that only moves
//! when told. Checks what the pure state cannot: nothing is answered before the commit, and a
//! failed commit undoes the reservation.

use chrono::{DateTime, Duration, Utc};
use livecart_actors::ids::new_id;
use livecart_actors::inventory::{
    InventoryActor, InventoryState, ListingTerms, Placed, Reserve, ReserveError, ReserveFailed, ReserveRequest,
    Restock, RestockFailed, Snapshot,
};
use livecart_actors::journal::{Journal, JournalEntry, JournalError, Listener};
use livecart_actors::lease::Fence;
use livecart_actors::room::RoomStatus;
use livecart_actors::{Clock, ManualClock};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

mod support;

/// Commits at once, or fails every entry while `failing` is set, refuses entries of an epoch
/// below `epoch` as a newer owner's journal would, or never answers while `hanging` is set;
/// counts what it committed.
#[derive(Default)]
struct FakeJournal {
    failing: AtomicBool,
    hanging: AtomicBool,
    epoch: AtomicUsize,
    committed: AtomicUsize,
}

impl Journal for FakeJournal {
    fn append(&self, fence: Fence, _entry: JournalEntry, listener: &Listener) -> Result<(), JournalError> {
        if self.hanging.load(Ordering::SeqCst) {
            return Ok(());
        }
        let outcome = if self.failing.load(Ordering::SeqCst) {
            Err(JournalError::Unavailable("disk on fire".into()))
        } else if (fence.epoch as usize) < self.epoch.load(Ordering::SeqCst) {
            Err(JournalError::Fenced)
        } else {
            self.committed.fetch_add(1, Ordering::SeqCst);
            Ok(())
        };
        // A batch of one, answered as the real journal answers a batch.
        listener.committed(vec![outcome]);
        Ok(())
    }
}

fn start() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).expect("valid")
}

fn actor(
    journal: Arc<FakeJournal>,
    clock: Arc<ManualClock>,
    opens_in: Duration,
) -> (actix::Addr<InventoryActor>, uuid::Uuid) {
    use actix::Actor;
    let room_id = new_id();
    let terms = ListingTerms {
        listing_id: new_id(),
        room_id,
        price_cents: 500,
        per_user_limit: 5,
        starts_at: Some(start() + opens_in),
        ends_at: None,
    };
    let state = InventoryState::new(terms, RoomStatus::Live, 3, Duration::minutes(15));
    let clock: Arc<dyn Clock> = clock;
    let fence = Fence { room_id, epoch: 1 };
    (InventoryActor::new(state, fence, journal, clock, None).start(), room_id)
}

/// One unit for a new buyer, through the mailbox.
async fn reserve(inventory: &actix::Addr<InventoryActor>, room_id: uuid::Uuid) -> Result<Placed, ReserveFailed> {
    inventory.send(Reserve::new(room_id, request())).await.expect("mailbox")
}

fn request() -> ReserveRequest {
    support::one_unit_for_a_new_buyer()
}

#[actix_rt::test]
async fn the_sale_opens_at_the_clocks_time() {
    let clock = Arc::new(ManualClock::new(start()));
    let (inventory, room_id) = actor(Arc::default(), clock.clone(), Duration::seconds(30));
    let early = reserve(&inventory, room_id).await;
    assert_eq!(early, Err(ReserveFailed::Refused(ReserveError::SaleNotOpen)));
    clock.advance(Duration::seconds(30));
    let on_time = reserve(&inventory, room_id).await;
    assert!(matches!(on_time, Ok(Placed::New(_))), "{on_time:?}");
}

#[actix_rt::test]
async fn a_failed_commit_answers_unavailable_and_gives_the_stock_back() {
    let journal = Arc::new(FakeJournal::default());
    let clock = Arc::new(ManualClock::new(start()));
    let (inventory, room_id) = actor(journal.clone(), clock, Duration::zero());

    journal.failing.store(true, Ordering::SeqCst);
    let failed = reserve(&inventory, room_id).await;
    assert!(
        matches!(failed, Err(ReserveFailed::Storage(JournalError::Unavailable(_)))),
        "{failed:?}"
    );
    assert_eq!(
        inventory.send(Snapshot).await.expect("mailbox").stock_left,
        3,
        "the reservation was undone"
    );

    journal.failing.store(false, Ordering::SeqCst);
    for _ in 0..3 {
        let placed = reserve(&inventory, room_id).await;
        assert!(matches!(placed, Ok(Placed::New(_))));
    }
    let sold_out = reserve(&inventory, room_id).await;
    assert_eq!(sold_out, Err(ReserveFailed::Refused(ReserveError::SoldOut)));
    assert_eq!(
        journal.committed.load(Ordering::SeqCst),
        3,
        "exactly the acknowledged orders were committed"
    );
}

#[actix_rt::test]
async fn a_listing_of_another_room_is_refused() {
    let clock = Arc::new(ManualClock::new(start()));
    let (inventory, _room) = actor(Arc::default(), clock, Duration::zero());
    let elsewhere = reserve(&inventory, new_id()).await;
    assert_eq!(elsewhere, Err(ReserveFailed::NotInRoom));
}

#[actix_rt::test]
async fn a_restock_through_another_room_is_refused_and_adds_nothing() {
    let clock = Arc::new(ManualClock::new(start()));
    let journal = Arc::new(FakeJournal::default());
    let (inventory, _room) = actor(journal.clone(), clock, Duration::zero());
    let elsewhere = inventory
        .send(Restock {
            room_id: new_id(),
            added: 1000,
        })
        .await
        .expect("mailbox");
    assert_eq!(elsewhere, Err(RestockFailed::NotInRoom));
    assert_eq!(inventory.send(Snapshot).await.expect("mailbox").stock_left, 3);
    assert_eq!(journal.committed.load(Ordering::SeqCst), 0, "nothing was journaled");
}

#[actix_rt::test]
async fn a_fenced_off_actor_undoes_its_reservation_and_stops() {
    let journal = Arc::new(FakeJournal::default());
    let clock = Arc::new(ManualClock::new(start()));
    let (inventory, room_id) = actor(journal.clone(), clock, Duration::zero());
    // A newer owner took the room: epoch 2 exists, this actor writes under 1.
    journal.epoch.store(2, Ordering::SeqCst);
    let fenced = reserve(&inventory, room_id).await;
    assert_eq!(fenced, Err(ReserveFailed::Storage(JournalError::Fenced)));
    for _ in 0..200 {
        if !inventory.connected() {
            break;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(!inventory.connected(), "a stale owner stops deciding");
    assert_eq!(journal.committed.load(Ordering::SeqCst), 0);
}

#[actix_rt::test]
async fn while_commits_hang_buyers_get_unavailable_not_sold_out() {
    let journal = Arc::new(FakeJournal::default());
    let clock = Arc::new(ManualClock::new(start()));
    let (inventory, room_id) = actor(journal.clone(), clock, Duration::zero());
    journal.hanging.store(true, Ordering::SeqCst);
    // Three buyers hold every unit in commits that never come.
    for _ in 0..3 {
        let reserve = inventory.send(Reserve::new(room_id, request()));
        actix_rt::spawn(async move {
            let _ = reserve.await;
        });
    }
    // Not stuck yet: a commit in flight for a moment is normal, and the stock is really held.
    let at_once = reserve(&inventory, room_id).await;
    assert_eq!(at_once, Err(ReserveFailed::Refused(ReserveError::SoldOut)));
    // Past the stuck threshold the units may yet come back: retry later, not sold out.
    actix_rt::time::sleep(std::time::Duration::from_millis(300)).await;
    let later = reserve(&inventory, room_id).await;
    assert!(
        matches!(later, Err(ReserveFailed::Storage(JournalError::Unavailable(_)))),
        "{later:?}"
    );
}

#[actix_rt::test]
async fn a_refusal_that_stands_whatever_hanging_commits_do_is_answered_as_it_is() {
    let journal = Arc::new(FakeJournal::default());
    let clock = Arc::new(ManualClock::new(start()));
    let (inventory, room_id) = actor(journal.clone(), clock, Duration::zero());
    // Two units sold and committed; then storage hangs with the last unit in a commit.
    for _ in 0..2 {
        assert!(matches!(reserve(&inventory, room_id).await, Ok(Placed::New(_))));
    }
    journal.hanging.store(true, Ordering::SeqCst);
    let hanging = inventory.send(Reserve::new(room_id, request()));
    actix_rt::spawn(async move {
        let _ = hanging.await;
    });
    actix_rt::time::sleep(std::time::Duration::from_millis(300)).await;
    // Two units could not be had even if the hanging commit gave its one back: sold out, for
    // sure, while storage is slow (a sell-out on slow storage must not read as an outage).
    let two = inventory
        .send(Reserve::new(
            room_id,
            ReserveRequest {
                quantity: 2,
                ..request()
            },
        ))
        .await
        .expect("mailbox");
    assert_eq!(two, Err(ReserveFailed::Refused(ReserveError::SoldOut)));
    // One unit might come back: that buyer is told to retry.
    let one = reserve(&inventory, room_id).await;
    assert!(
        matches!(one, Err(ReserveFailed::Storage(JournalError::Unavailable(_)))),
        "{one:?}"
    );
}
