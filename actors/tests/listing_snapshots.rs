//! When an InventoryActor writes its snapshot: a small listing every tick while its position
//! moves, a large one only once its sale pauses (a large snapshot holds SQLite's one write lock
//! long enough to stall every order behind it), and none past what its store keeps (SQLite's
//! keeps small ones only). Tokio's clock is paused, so the ticks come without waiting for them.

use chrono::{DateTime, Duration, Utc};
use futures_util::future::BoxFuture;
use livecart_actors::ids::new_id;
use livecart_actors::inventory::{InventoryActor, InventoryState, ListingTerms, Placed, Reserve, ReserveRequest};
use livecart_actors::journal::{Journal, JournalEntry, JournalError, Listener};
use livecart_actors::lease::Fence;
use livecart_actors::room::RoomStatus;
use livecart_actors::snapshot::{ListingSnapshot, RoomSnapshot, SessionSnapshot, SnapshotError, SnapshotStore};
use livecart_actors::{ListingId, ManualClock, RoomId, UserId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Commits every entry at once, as a batch of one.
struct InstantJournal;

impl Journal for InstantJournal {
    fn append(&self, _fence: Fence, _entry: JournalEntry, listener: &Listener) -> Result<(), JournalError> {
        listener.committed(vec![Ok(())]);
        Ok(())
    }
}

/// Records the position of every listing snapshot saved; keeps snapshots of up to `kept`
/// entries, as a store says.
struct Recorder {
    saved: Mutex<Vec<u64>>,
    kept: usize,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::keeping(usize::MAX)
    }
}

impl Recorder {
    fn keeping(kept: usize) -> Self {
        Self {
            saved: Mutex::new(Vec::new()),
            kept,
        }
    }

    fn saved(&self) -> Vec<u64> {
        self.saved.lock().expect("recorder lock").clone()
    }
}

impl SnapshotStore for Recorder {
    fn save_room(&self, _room_id: RoomId, _snapshot: RoomSnapshot) -> BoxFuture<'static, Result<(), SnapshotError>> {
        Box::pin(async { Ok(()) })
    }

    fn load_room(&self, _room_id: RoomId) -> BoxFuture<'static, Result<Option<RoomSnapshot>, SnapshotError>> {
        Box::pin(async { Ok(None) })
    }

    fn save_listing(
        &self,
        _listing_id: ListingId,
        snapshot: ListingSnapshot,
    ) -> BoxFuture<'static, Result<(), SnapshotError>> {
        self.saved.lock().expect("recorder lock").push(snapshot.position);
        Box::pin(async { Ok(()) })
    }

    fn load_listings(
        &self,
        _listing_ids: Vec<ListingId>,
    ) -> BoxFuture<'static, Result<HashMap<ListingId, ListingSnapshot>, SnapshotError>> {
        Box::pin(async { Ok(HashMap::new()) })
    }

    fn save_session(
        &self,
        _room_id: RoomId,
        _user_id: UserId,
        _snapshot: SessionSnapshot,
    ) -> BoxFuture<'static, Result<(), SnapshotError>> {
        Box::pin(async { Ok(()) })
    }

    fn load_session(
        &self,
        _room_id: RoomId,
        _user_id: UserId,
    ) -> BoxFuture<'static, Result<Option<SessionSnapshot>, SnapshotError>> {
        Box::pin(async { Ok(None) })
    }

    fn listing_entries_kept(&self) -> usize {
        self.kept
    }
}

/// A live listing of plenty of stock, writing its snapshots to `store`.
fn listing(store: Arc<Recorder>) -> (actix::Addr<InventoryActor>, RoomId) {
    use actix::Actor;
    let room_id = new_id();
    let terms = ListingTerms {
        listing_id: new_id(),
        room_id,
        price_cents: 500,
        per_user_limit: 1,
        starts_at: None,
        ends_at: None,
    };
    let state = InventoryState::new(terms, RoomStatus::Live, 1_000_000, Duration::minutes(15));
    let clock = Arc::new(ManualClock::new(
        DateTime::<Utc>::from_timestamp(1_800_000_000, 0).expect("valid"),
    ));
    let actor = InventoryActor::new(
        state,
        Fence { room_id, epoch: 1 },
        Arc::new(InstantJournal),
        clock,
        None,
    )
    .with_snapshots(store, 0, false);
    (actor.start(), room_id)
}

/// One unit for a new buyer; every order is acknowledged.
async fn order(inventory: &actix::Addr<InventoryActor>, room_id: RoomId) {
    let request = ReserveRequest {
        order_id: new_id(),
        user_id: new_id(),
        quantity: 1,
        idempotency_key: None,
    };
    let placed = inventory.send(Reserve::new(room_id, request)).await.expect("mailbox");
    assert!(matches!(placed, Ok(Placed::New(_))), "{placed:?}");
}

/// `before` orders at once, then a sale of one order every 100 ms for three seconds, then three
/// quiet seconds; returns the positions saved during the sale and after it.
async fn sale(before: u64) -> (Vec<u64>, Vec<u64>, u64) {
    sale_into(Recorder::default(), before).await
}

/// [`sale`], its snapshots written to `store`.
async fn sale_into(store: Recorder, before: u64) -> (Vec<u64>, Vec<u64>, u64) {
    tokio::time::pause();
    let store = Arc::new(store);
    let (inventory, room_id) = listing(store.clone());
    for _ in 0..before {
        order(&inventory, room_id).await;
    }
    for _ in 0..30 {
        order(&inventory, room_id).await;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let during = store.saved();
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let after = store.saved()[during.len()..].to_vec();
    (during, after, before + 30)
}

#[actix_rt::test]
async fn a_small_listing_is_written_during_its_sale() {
    let (during, _after, _sold) = sale(10).await;
    assert!(!during.is_empty(), "a small snapshot is taken while orders come");
}

#[actix_rt::test]
async fn a_large_listing_is_written_once_its_sale_pauses_and_never_during_it() {
    let (during, after, sold) = sale(2_500).await;
    assert_eq!(during, Vec::<u64>::new(), "no large snapshot while orders come");
    assert_eq!(
        after,
        vec![sold],
        "one snapshot once the orders stopped, at the last position"
    );
}

#[actix_rt::test]
async fn a_listing_larger_than_its_store_keeps_writes_no_snapshot_paused_or_not() {
    // Every buyer is new, so each order is two entries (the order held, the buyer holding).
    let (during, after, _sold) = sale_into(Recorder::keeping(100), 60).await;
    assert_eq!(during, Vec::<u64>::new(), "nothing written while orders come");
    assert_eq!(after, Vec::<u64>::new(), "nothing written once they stop either");
}

#[actix_rt::test]
async fn the_same_listing_within_what_its_store_keeps_is_written() {
    let (during, _after, _sold) = sale_into(Recorder::keeping(1_000), 60).await;
    assert!(
        !during.is_empty(),
        "a listing within what the store keeps is written as before"
    );
}
