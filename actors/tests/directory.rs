//! The Directory with its ports faked: one load per room however many first requests race, a
//! room whose actor stopped starts again under a new epoch, a listing is only reachable through
//! its own room, and a room another node holds is not served here.

use chrono::Duration;
use futures_util::future::BoxFuture;
use livecart_actors::directory::{
    Directory, DirectoryError, DirectorySettings, ListingSeed, LoadError, RoomSeed, RoomStore,
};
use livecart_actors::ids::new_id;
use livecart_actors::inventory::{ListingTerms, Retire};
use livecart_actors::journal::{Journal, JournalEntry, JournalError, Listener};
use livecart_actors::lease::{Acquired, Fence, LeaseError, Leases};
use livecart_actors::room::{RoomConfig, RoomStatus};
use livecart_actors::snapshot::NoSnapshots;
use livecart_actors::{ListingId, RoomId, SystemClock};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// One room with one listing; counts its loads, each slow enough for requests to pile up.
struct FakeStore {
    room_id: RoomId,
    listing_id: ListingId,
    loads: AtomicUsize,
}

impl RoomStore for FakeStore {
    fn load_room(&self, room_id: RoomId) -> BoxFuture<'static, Result<Option<RoomSeed>, LoadError>> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        let (known, listing_id) = (self.room_id, self.listing_id);
        Box::pin(async move {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            if room_id != known {
                return Ok(None);
            }
            Ok(Some(RoomSeed {
                room_id,
                title: "tea time".into(),
                playback: Default::default(),
                status: RoomStatus::Live,
                pinned_listing_id: None,
                muted: Vec::new(),
                listings: vec![seed(room_id, listing_id)],
            }))
        })
    }

    fn load_listing(
        &self,
        _room_id: RoomId,
        _listing_id: ListingId,
    ) -> BoxFuture<'static, Result<Option<ListingSeed>, LoadError>> {
        Box::pin(async { Ok(None) })
    }
}

fn seed(room_id: RoomId, listing_id: ListingId) -> ListingSeed {
    ListingSeed {
        title: "tea".into(),
        terms: ListingTerms {
            listing_id,
            room_id,
            price_cents: 100,
            per_user_limit: 1,
            starts_at: None,
            ends_at: None,
        },
        total_stock: 5,
        holdings: Default::default(),
        position: 0,
        restored: false,
    }
}

/// Hands out epochs 1, 2, 3… or says another node holds the room.
#[derive(Default)]
struct FakeLeases {
    epoch: AtomicU64,
    held_elsewhere: AtomicBool,
}

impl Leases for FakeLeases {
    fn acquire(&self, _room_id: RoomId) -> BoxFuture<'static, Result<Acquired, LeaseError>> {
        let acquired = if self.held_elsewhere.load(Ordering::SeqCst) {
            Acquired::HeldElsewhere
        } else {
            Acquired::Taken(self.epoch.fetch_add(1, Ordering::SeqCst) + 1)
        };
        Box::pin(async move { Ok(acquired) })
    }

    fn renew(&self, _held: Vec<Fence>) -> BoxFuture<'static, Result<Vec<Fence>, LeaseError>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn release(&self, _held: Vec<Fence>) -> BoxFuture<'static, Result<(), LeaseError>> {
        Box::pin(async { Ok(()) })
    }
}

struct InstantJournal;

impl Journal for InstantJournal {
    fn append(&self, _fence: Fence, _entry: JournalEntry, listener: &Listener) -> Result<(), JournalError> {
        listener.committed(vec![Ok(())]);
        Ok(())
    }
}

fn directory() -> (Arc<Directory>, Arc<FakeStore>, Arc<FakeLeases>) {
    let store = Arc::new(FakeStore {
        room_id: new_id(),
        listing_id: new_id(),
        loads: AtomicUsize::new(0),
    });
    let leases = Arc::new(FakeLeases::default());
    let settings = DirectorySettings {
        reservation_ttl: Duration::minutes(15),
        arbiters: 2,
        room: RoomConfig::default(),
    };
    let directory = Directory::new(
        store.clone(),
        leases.clone(),
        Arc::new(InstantJournal),
        Arc::new(SystemClock),
        Arc::new(NoSnapshots),
        settings,
    );
    (Arc::new(directory), store, leases)
}

#[actix_rt::test]
async fn racing_first_requests_load_the_room_once() {
    let (directory, store, leases) = directory();
    let room_id = store.room_id;
    let lookups = (0..50).map(|_| {
        let directory = directory.clone();
        async move { directory.room(room_id).await }
    });
    let rooms = futures_util::future::join_all(lookups).await;
    assert!(rooms.iter().all(|r| matches!(r, Ok(Some(_)))));
    assert_eq!(store.loads.load(Ordering::SeqCst), 1, "one load for all");
    assert_eq!(leases.epoch.load(Ordering::SeqCst), 1, "one lease taken");
}

#[actix_rt::test]
async fn a_room_whose_listing_actor_stopped_starts_again_under_a_new_epoch() {
    let (directory, store, leases) = directory();
    let (room_id, listing_id) = (store.room_id, store.listing_id);
    let first = directory
        .inventory(room_id, listing_id)
        .await
        .expect("loads")
        .expect("the listing");
    // As after a panic in a handler: the actor is gone, its address dead.
    first.send(Retire).await.expect("delivered");
    for _ in 0..200 {
        if !first.connected() {
            break;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(!first.connected(), "the actor stopped");
    let second = directory
        .inventory(room_id, listing_id)
        .await
        .expect("loads")
        .expect("the listing");
    assert!(second.connected(), "a live actor again");
    assert_eq!(store.loads.load(Ordering::SeqCst), 2, "rebuilt from storage");
    assert_eq!(
        leases.epoch.load(Ordering::SeqCst),
        2,
        "under a newer epoch, fencing off the old one"
    );
}

#[actix_rt::test]
async fn a_listing_is_only_reached_through_its_own_room() {
    let (directory, store, _leases) = directory();
    directory.room(store.room_id).await.expect("loads").expect("the room");
    let elsewhere = directory.inventory(new_id(), store.listing_id).await.expect("no error");
    assert!(elsewhere.is_none());
}

#[actix_rt::test]
async fn a_room_held_by_another_node_is_not_served_here() {
    let (directory, store, leases) = directory();
    leases.held_elsewhere.store(true, Ordering::SeqCst);
    let refused = directory.room(store.room_id).await;
    assert!(matches!(refused, Err(DirectoryError::OwnedElsewhere)), "{refused:?}");
    assert_eq!(
        store.loads.load(Ordering::SeqCst),
        0,
        "nothing is read for a room not owned"
    );
}
