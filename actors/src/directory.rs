//! The Directory: room and listing id → actor address.
//!
//! It starts a room's actors on first use, rehydrated from the store, and spreads them over one
//! arbiter per core so both cores decide orders. Lookups take a short lock that is never held
//! across I/O: a miss loads the room without the lock, then inserts it unless a racing request
//! inserted it first (the loser's copy is dropped before any actor starts). It is the seam where
//! scale-out will plug in: a remote owner's address would be returned from here.

use crate::clock::Clock;
use crate::ids::{ListingId, RoomId, UserId};
use crate::inventory::{InventoryActor, InventoryState, ListingTerms, StoredOrder};
use crate::journal::Journal;
use crate::room::fanout::FanoutShard;
use crate::room::{AttachListing, RoomActor, RoomConfig, RoomInit, RoomStatus};
use crate::session::ListingInfo;
use actix::prelude::*;
use chrono::Duration;
use futures_util::future::BoxFuture;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A room as stored, enough to start its actors.
#[derive(Debug, Clone)]
pub struct RoomSeed {
    pub room_id: RoomId,
    pub status: RoomStatus,
    pub pinned_listing_id: Option<ListingId>,
    /// Users muted in the room's chat.
    pub muted: Vec<UserId>,
    pub listings: Vec<ListingSeed>,
}

/// A listing as stored: its terms, every unit ever made sellable, and its orders.
#[derive(Debug, Clone)]
pub struct ListingSeed {
    pub title: String,
    pub terms: ListingTerms,
    pub total_stock: u64,
    pub orders: Vec<StoredOrder>,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("could not load room state: {0}")]
pub struct LoadError(pub String);

/// The port through which the directory rehydrates a room from storage.
pub trait RoomStore: Send + Sync + 'static {
    /// The room with its listings and their orders; `None` when no such room exists.
    fn load_room(&self, room_id: RoomId) -> BoxFuture<'static, Result<Option<RoomSeed>, LoadError>>;
}

#[derive(Debug, Clone, Copy)]
pub struct DirectorySettings {
    /// How long a reservation holds stock before it may expire.
    pub reservation_ttl: Duration,
    /// Arbiters (threads) the actors are spread over; one per core.
    pub arbiters: usize,
    pub room: RoomConfig,
}

#[derive(Default)]
struct Entries {
    rooms: HashMap<RoomId, Addr<RoomActor>>,
    listings: HashMap<ListingId, Addr<InventoryActor>>,
}

pub struct Directory {
    entries: Mutex<Entries>,
    store: Arc<dyn RoomStore>,
    journal: Arc<dyn Journal>,
    clock: Arc<dyn Clock>,
    settings: DirectorySettings,
    arbiters: Vec<Arbiter>,
    next_arbiter: AtomicUsize,
}

impl Directory {
    pub fn new(
        store: Arc<dyn RoomStore>,
        journal: Arc<dyn Journal>,
        clock: Arc<dyn Clock>,
        settings: DirectorySettings,
    ) -> Self {
        let arbiters = (0..settings.arbiters.max(1)).map(|_| Arbiter::new()).collect();
        Self {
            entries: Mutex::new(Entries::default()),
            store,
            journal,
            clock,
            settings,
            arbiters,
            next_arbiter: AtomicUsize::new(0),
        }
    }

    /// The room's actor, started and rehydrated on first use; `None` when the room does not exist.
    pub async fn room(&self, room_id: RoomId) -> Result<Option<Addr<RoomActor>>, LoadError> {
        if let Some(addr) = self.entries().rooms.get(&room_id) {
            return Ok(Some(addr.clone()));
        }
        let Some(seed) = self.store.load_room(room_id).await? else {
            return Ok(None);
        };
        let mut entries = self.entries();
        if let Some(addr) = entries.rooms.get(&room_id) {
            return Ok(Some(addr.clone()));
        }
        let room = self.start_room(&mut entries, seed);
        Ok(Some(room))
    }

    /// The listing's InventoryActor if the listing belongs to the room; starts the room if needed.
    pub async fn inventory(
        &self,
        room_id: RoomId,
        listing_id: ListingId,
    ) -> Result<Option<Addr<InventoryActor>>, LoadError> {
        if let Some(addr) = self.entries().listings.get(&listing_id) {
            return Ok(Some(addr.clone()));
        }
        if self.room(room_id).await?.is_none() {
            return Ok(None);
        }
        Ok(self.entries().listings.get(&listing_id).cloned())
    }

    /// Starts the actor of a listing just placed into a running room (a no-op when the room's
    /// rehydration already picked it up). Returns once the room has pushed its status into the
    /// new actor, so an order sent after this cannot overtake the status.
    pub async fn attach_listing(
        &self,
        room: &Addr<RoomActor>,
        seed: ListingSeed,
    ) -> Result<Addr<InventoryActor>, MailboxError> {
        let listing_id = seed.terms.listing_id;
        let inventory = {
            let mut entries = self.entries();
            if let Some(addr) = entries.listings.get(&listing_id) {
                return Ok(addr.clone());
            }
            // Scheduled until the room's AttachListing handler pushes the real status.
            self.start_inventory(&mut entries, seed, RoomStatus::Scheduled, room)
        };
        let (inventory, info) = inventory;
        room.send(AttachListing {
            listing: info,
            inventory: inventory.clone(),
        })
        .await?;
        Ok(inventory)
    }

    fn start_room(&self, entries: &mut Entries, seed: RoomSeed) -> Addr<RoomActor> {
        // One fan-out shard per arbiter: a large room's broadcasts use every core.
        let shards = self
            .arbiters
            .iter()
            .map(|a| FanoutShard::start_in_arbiter(&a.handle(), |_| FanoutShard::default()))
            .collect();
        let init = RoomInit {
            room_id: seed.room_id,
            status: seed.status,
            pinned_listing_id: seed.pinned_listing_id,
            muted: seed.muted.into_iter().collect(),
            epoch: new_epoch(),
        };
        let (clock, config) = (self.clock.clone(), self.settings.room);
        let room = RoomActor::start_in_arbiter(&self.pick_arbiter(), move |_ctx| {
            RoomActor::new(init, shards, clock, config)
        });
        for listing in seed.listings {
            let (inventory, info) = self.start_inventory(entries, listing, seed.status, &room);
            room.do_send(AttachListing {
                listing: info,
                inventory,
            });
        }
        entries.rooms.insert(seed.room_id, room.clone());
        room
    }

    fn start_inventory(
        &self,
        entries: &mut Entries,
        seed: ListingSeed,
        status: RoomStatus,
        room: &Addr<RoomActor>,
    ) -> (Addr<InventoryActor>, ListingInfo) {
        let terms = seed.terms.clone();
        let state = InventoryState::rehydrate(
            seed.terms,
            status,
            seed.total_stock,
            self.settings.reservation_ttl,
            seed.orders,
        );
        let info = ListingInfo {
            id: terms.listing_id,
            room_id: terms.room_id,
            title: seed.title,
            price_cents: terms.price_cents,
            stock: state.total(),
            stock_left: state.stock_left(),
            per_user_limit: terms.per_user_limit,
            starts_at: terms.starts_at,
            ends_at: terms.ends_at,
        };
        let (journal, clock) = (self.journal.clone(), self.clock.clone());
        let watcher = room.clone().recipient();
        let arbiter = self.pick_arbiter();
        let addr = InventoryActor::start_in_arbiter(&arbiter, move |_ctx| {
            InventoryActor::new(state, journal, clock, Some(watcher))
        });
        entries.listings.insert(terms.listing_id, addr.clone());
        (addr, info)
    }

    fn pick_arbiter(&self) -> ArbiterHandle {
        let i = self.next_arbiter.fetch_add(1, Ordering::Relaxed) % self.arbiters.len();
        self.arbiters[i].handle()
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A poisoned lock only means another request panicked mid-insert; the maps stay usable.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A chat-ring epoch: random, and below 2^53 so JavaScript clients hold it exactly.
fn new_epoch() -> u64 {
    (uuid::Uuid::new_v4().as_u64_pair().0 >> 12).max(1)
}

impl Drop for Directory {
    fn drop(&mut self) {
        for arbiter in &self.arbiters {
            arbiter.stop();
        }
    }
}
