//! The journal acknowledges per batch: each actor with entries in a batch is told once, with its
//! entries' outcomes in append order. These tests hold entries in a journal until the test
//! releases them as one batch with chosen outcomes, and check that every caller gets the outcome
//! of its own entry, and nothing before it.

use chrono::{DateTime, Duration, Utc};
use livecart_actors::ids::new_id;
use livecart_actors::inventory::{
    InventoryActor, InventoryState, Placed, Reserve, ReserveError, ReserveFailed, ReserveRequest, Retire, Snapshot,
};
use livecart_actors::journal::{JournalEntry, JournalError};
use livecart_actors::lease::Fence;
use livecart_actors::room::RoomStatus;
use livecart_actors::{ManualClock, OrderId, RoomId};
use std::sync::Arc;

mod support;
use support::HeldJournal;

/// The orders held, in append order.
fn held_orders(journal: &HeldJournal) -> Vec<OrderId> {
    journal
        .entries()
        .iter()
        .filter_map(|(_, entry)| match entry {
            JournalEntry::OrderPlaced { order, .. } => Some(order.id),
            _ => None,
        })
        .collect()
}

fn unavailable() -> JournalError {
    JournalError::Unavailable("the batch did not commit".into())
}

/// A live listing with 3 units, at most 5 per buyer, on `journal`.
fn listing(journal: Arc<HeldJournal>) -> (actix::Addr<InventoryActor>, RoomId) {
    use actix::Actor;
    let room_id = new_id();
    let terms = support::open_terms(room_id);
    let state = InventoryState::new(terms, RoomStatus::Live, 3, Duration::minutes(15));
    let start = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).expect("valid");
    let clock = Arc::new(ManualClock::new(start));
    let fence = Fence { room_id, epoch: 1 };
    (InventoryActor::new(state, fence, journal, clock, None).start(), room_id)
}

fn request(key: Option<&str>) -> ReserveRequest {
    ReserveRequest {
        order_id: new_id(),
        user_id: new_id(),
        quantity: 1,
        idempotency_key: key.map(str::to_owned),
    }
}

type Answer = actix_rt::task::JoinHandle<Result<Placed, ReserveFailed>>;

/// Sends the reserve and returns its pending answer.
fn reserve(inventory: &actix::Addr<InventoryActor>, room_id: RoomId, request: ReserveRequest) -> Answer {
    let sent = inventory.send(Reserve::new(room_id, request));
    actix_rt::spawn(async move { sent.await.expect("mailbox") })
}

/// Waits until the actor has handled everything sent to it before (its mailbox is in order).
async fn handled(inventory: &actix::Addr<InventoryActor>) -> u64 {
    inventory.send(Snapshot).await.expect("mailbox").stock_left
}

async fn answer(pending: Answer) -> Result<Placed, ReserveFailed> {
    pending.await.expect("the answer's task")
}

fn placed_id(answer: &Result<Placed, ReserveFailed>) -> Option<OrderId> {
    match answer {
        Ok(Placed::New(order)) => Some(order.id),
        _ => None,
    }
}

#[actix_rt::test]
async fn each_reservation_gets_its_own_entrys_outcome_from_one_batch() {
    let journal = Arc::new(HeldJournal::default());
    let (inventory, room_id) = listing(journal.clone());
    let requests: Vec<ReserveRequest> = (0..3).map(|_| request(None)).collect();
    let ids: Vec<OrderId> = requests.iter().map(|r| r.order_id).collect();
    let pending: Vec<Answer> = requests.into_iter().map(|r| reserve(&inventory, room_id, r)).collect();

    assert_eq!(handled(&inventory).await, 0, "the three units are held while in flight");
    assert_eq!(held_orders(&journal), ids, "appended in the order decided");
    assert!(
        pending.iter().all(|answer| !answer.is_finished()),
        "nobody is answered before the batch's outcome"
    );

    journal.release(vec![Ok(()), Err(JournalError::KeyConflict), Ok(())]);
    let mut answers = Vec::new();
    for answer_of in pending {
        answers.push(answer(answer_of).await);
    }
    assert_eq!(placed_id(&answers[0]), Some(ids[0]));
    assert_eq!(
        answers[1],
        Err(ReserveFailed::Refused(ReserveError::IdempotencyKeyReused)),
        "the refused entry's caller, and only it, is refused"
    );
    assert_eq!(placed_id(&answers[2]), Some(ids[2]));
    assert_eq!(handled(&inventory).await, 1, "the refused entry's unit came back");
}

#[actix_rt::test]
async fn a_batch_holding_two_listings_tells_each_its_own_outcomes() {
    let journal = Arc::new(HeldJournal::default());
    let (first, first_room) = listing(journal.clone());
    let (second, second_room) = listing(journal.clone());
    // Appended as first, second, first, second.
    let a1 = reserve(&first, first_room, request(None));
    handled(&first).await;
    let b1 = reserve(&second, second_room, request(None));
    handled(&second).await;
    let a2 = reserve(&first, first_room, request(None));
    handled(&first).await;
    let b2 = reserve(&second, second_room, request(None));
    handled(&second).await;

    journal.release(vec![Ok(()), Err(unavailable()), Err(unavailable()), Ok(())]);
    assert!(matches!(answer(a1).await, Ok(Placed::New(_))));
    assert!(matches!(
        answer(b1).await,
        Err(ReserveFailed::Storage(JournalError::Unavailable(_)))
    ));
    assert!(matches!(
        answer(a2).await,
        Err(ReserveFailed::Storage(JournalError::Unavailable(_)))
    ));
    assert!(matches!(answer(b2).await, Ok(Placed::New(_))));
    assert_eq!(handled(&first).await, 2, "the first listing's failed order was undone");
    assert_eq!(
        handled(&second).await,
        2,
        "the second listing's failed order was undone"
    );
}

#[actix_rt::test]
async fn a_failed_batch_undoes_every_reservation_in_it() {
    let journal = Arc::new(HeldJournal::default());
    let (inventory, room_id) = listing(journal.clone());
    let pending: Vec<Answer> = (0..3).map(|_| reserve(&inventory, room_id, request(None))).collect();
    assert_eq!(handled(&inventory).await, 0);

    journal.release(vec![Err(unavailable()); 3]);
    for answer_of in pending {
        let failed = answer(answer_of).await;
        assert!(
            matches!(failed, Err(ReserveFailed::Storage(JournalError::Unavailable(_)))),
            "{failed:?}"
        );
    }
    assert_eq!(handled(&inventory).await, 3, "every unit came back");

    // The units can be sold again, and the next batch is matched from a clean queue.
    let again = reserve(&inventory, room_id, request(None));
    handled(&inventory).await;
    journal.release(vec![Ok(())]);
    assert!(matches!(answer(again).await, Ok(Placed::New(_))));
}

#[actix_rt::test]
async fn a_replay_waiting_on_an_order_in_flight_gets_that_orders_outcome() {
    let journal = Arc::new(HeldJournal::default());
    let (inventory, room_id) = listing(journal.clone());
    let first = request(Some("k1"));
    let replay = ReserveRequest {
        order_id: new_id(),
        ..first.clone()
    };
    let original_id = first.order_id;
    let original = reserve(&inventory, room_id, first);
    let repeated = reserve(&inventory, room_id, replay);
    assert_eq!(handled(&inventory).await, 2, "the replay took nothing");
    assert!(!repeated.is_finished(), "the replay waits for the original's commit");

    journal.release(vec![Ok(())]);
    assert_eq!(placed_id(&answer(original).await), Some(original_id));
    assert_eq!(answer(repeated).await, Ok(Placed::Replayed(original_id)));
}

#[actix_rt::test]
async fn a_replay_of_an_order_whose_batch_failed_fails_with_it_and_frees_the_key() {
    let journal = Arc::new(HeldJournal::default());
    let (inventory, room_id) = listing(journal.clone());
    let first = request(Some("k1"));
    let replay = ReserveRequest {
        order_id: new_id(),
        ..first.clone()
    };
    let retry = ReserveRequest {
        order_id: new_id(),
        ..first.clone()
    };
    let original = reserve(&inventory, room_id, first);
    let repeated = reserve(&inventory, room_id, replay);
    handled(&inventory).await;

    journal.release(vec![Err(unavailable())]);
    assert!(matches!(answer(original).await, Err(ReserveFailed::Storage(_))));
    assert!(matches!(answer(repeated).await, Err(ReserveFailed::Storage(_))));

    // The key was released with the order: the same request now makes a new order.
    let retry_id = retry.order_id;
    let retried = reserve(&inventory, room_id, retry);
    handled(&inventory).await;
    journal.release(vec![Ok(())]);
    assert_eq!(placed_id(&answer(retried).await), Some(retry_id));
}

#[actix_rt::test]
async fn a_retired_actor_answers_the_orders_it_has_in_flight_before_it_stops() {
    let journal = Arc::new(HeldJournal::default());
    let (inventory, room_id) = listing(journal.clone());
    let in_flight = reserve(&inventory, room_id, request(None));
    handled(&inventory).await;
    // The room moves on: the Directory retires the actor and lets go of its address. New work
    // goes to the next incarnation; the order already decided waits for its commit.
    inventory.do_send(Retire);
    let later = inventory
        .send(Reserve::new(room_id, request(None)))
        .await
        .expect("mailbox");
    assert_eq!(later, Err(ReserveFailed::Retiring));
    drop(inventory);
    actix_rt::time::sleep(std::time::Duration::from_millis(50)).await;

    journal.release(vec![Ok(())]);
    let answer = answer(in_flight).await;
    assert!(
        matches!(answer, Ok(Placed::New(_))),
        "the committed order is answered as placed, not dropped for a retry that would order twice: {answer:?}"
    );
}

/// Sends the reserve as the server does (`inventory::reserve`: gathered with the others this
/// thread sends in the same turn) and returns its pending answer.
fn reserve_gathered(inventory: &actix::Addr<InventoryActor>, room_id: RoomId, request: ReserveRequest) -> Answer {
    let inventory = inventory.clone();
    actix_rt::spawn(async move {
        livecart_actors::inventory::reserve(&inventory, Reserve::new(room_id, request))
            .await
            .expect("mailbox")
    })
}

/// Lets this thread's tasks run (the gatherings' flushes, the actor) until `n` entries are held.
async fn appended(journal: &HeldJournal, n: usize) {
    for _ in 0..10_000 {
        if journal.entries().len() >= n {
            return;
        }
        actix_rt::task::yield_now().await;
    }
    panic!("{} entries appended, not {n}", journal.entries().len());
}

#[actix_rt::test]
async fn gathered_reserves_of_two_gatherings_in_one_batch_each_get_their_own_outcome() {
    use actix::Actor;
    let journal = Arc::new(HeldJournal::default());
    let room_id = new_id();
    let state = InventoryState::new(
        support::open_terms(room_id),
        RoomStatus::Live,
        10,
        Duration::minutes(15),
    );
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let inventory = InventoryActor::new(state, Fence { room_id, epoch: 1 }, journal.clone(), clock, None).start();

    // Two turns of this thread, so two gatherings, answered by one batch.
    let first: Vec<ReserveRequest> = (0..3).map(|_| request(None)).collect();
    let second: Vec<ReserveRequest> = (0..2).map(|_| request(None)).collect();
    let ids: Vec<OrderId> = first.iter().chain(&second).map(|r| r.order_id).collect();
    let mut pending: Vec<Answer> = first
        .into_iter()
        .map(|r| reserve_gathered(&inventory, room_id, r))
        .collect();
    appended(&journal, 3).await;
    pending.extend(second.into_iter().map(|r| reserve_gathered(&inventory, room_id, r)));
    appended(&journal, 5).await;
    assert_eq!(handled(&inventory).await, 5, "five units held while in flight");
    assert_eq!(held_orders(&journal), ids, "appended in the order gathered");

    journal.release(vec![
        Ok(()),
        Err(JournalError::KeyConflict),
        Ok(()),
        Err(unavailable()),
        Ok(()),
    ]);
    let mut answers = Vec::new();
    for answer_of in pending {
        answers.push(answer(answer_of).await);
    }
    assert_eq!(placed_id(&answers[0]), Some(ids[0]));
    assert_eq!(
        answers[1],
        Err(ReserveFailed::Refused(ReserveError::IdempotencyKeyReused))
    );
    assert_eq!(placed_id(&answers[2]), Some(ids[2]));
    assert!(matches!(answers[3], Err(ReserveFailed::Storage(_))), "{:?}", answers[3]);
    assert_eq!(placed_id(&answers[4]), Some(ids[4]));
    assert_eq!(handled(&inventory).await, 7, "the two refused entries' units came back");
}
