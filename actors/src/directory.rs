//! The Directory: room and listing id → actor address, and which rooms this node owns.
//!
//! It starts a room's actors on first use and spreads them over one arbiter per core so both
//! cores decide orders. Before it starts them it takes the room's lease, which hands out a new
//! epoch, and only then reads the room from storage: whatever an earlier owner committed is
//! visible, and whatever that owner still has in flight is fenced off by the journal. Concurrent
//! first requests for a room wait for one load (a gate per room) instead of each reading it.
//!
//! Supervision lives here too: a room whose actor or one of whose listings' actors has stopped
//! (a panic, or an actor that found itself fenced off) is retired whole and started again from
//! storage under a new epoch on its next request. Lookups take a short lock that is never held
//! across I/O. It is the seam where scale-out plugs in: a remote owner would be answered here.

use crate::clock::Clock;
use crate::ids::{ListingId, RoomId, UserId};
use crate::inventory::{Drain, IdleFor, InventoryActor, InventoryState, ListingTerms, Retire, StoredHoldings};
use crate::journal::Journal;
use crate::lease::{Acquired, Fence, LeaseError, Leases};
use crate::room::fanout::FanoutShard;
use crate::room::{AttachListing, GoAway, Occupancy, Persist, RetireRoom, RoomActor, RoomConfig, RoomInit, RoomStatus};
use crate::session::frames::RoomPlayback;
use crate::session::ListingInfo;
use crate::snapshot::{RoomSnapshot, SnapshotStore};
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
    pub title: String,
    /// Where viewers watch the stream (the welcome carries it).
    pub playback: RoomPlayback,
    pub status: RoomStatus,
    pub pinned_listing_id: Option<ListingId>,
    /// Users muted in the room's chat.
    pub muted: Vec<UserId>,
    pub listings: Vec<ListingSeed>,
}

/// A listing as stored: its terms, every unit ever made sellable, and what its orders hold.
#[derive(Debug, Clone)]
pub struct ListingSeed {
    pub title: String,
    pub terms: ListingTerms,
    pub total_stock: u64,
    pub holdings: StoredHoldings,
    /// The listing's journal position that `holdings` reflects.
    pub position: u64,
    /// `holdings` came from the listing's snapshot (at `position`), not from its orders.
    pub restored: bool,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("could not load room state: {0}")]
pub struct LoadError(pub String);

/// Why the Directory could not hand out a room's actors.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DirectoryError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Lease(#[from] LeaseError),
    /// Another node holds the room's lease; this node serves nothing for it.
    #[error("the room is served by another node")]
    OwnedElsewhere,
}

/// The port through which the directory rehydrates a room from storage.
pub trait RoomStore: Send + Sync + 'static {
    /// The room with its listings and what their orders hold; `None` when no such room exists.
    fn load_room(&self, room_id: RoomId) -> BoxFuture<'static, Result<Option<RoomSeed>, LoadError>>;

    /// One listing of the room, for a listing placed after the room was loaded (perhaps through
    /// another node); `None` when the room has no such listing.
    fn load_listing(
        &self,
        room_id: RoomId,
        listing_id: ListingId,
    ) -> BoxFuture<'static, Result<Option<ListingSeed>, LoadError>>;
}

#[derive(Debug, Clone, Copy)]
pub struct DirectorySettings {
    /// How long a reservation holds stock before it may expire.
    pub reservation_ttl: Duration,
    /// Arbiters (threads) the actors are spread over; one per core.
    pub arbiters: usize,
    pub room: RoomConfig,
}

/// A running room: its actor, the lease epoch it writes under, and its listings.
struct RoomEntry {
    addr: Addr<RoomActor>,
    fence: Fence,
    listings: Vec<ListingId>,
}

#[derive(Default)]
struct Entries {
    rooms: HashMap<RoomId, RoomEntry>,
    /// Each listing with the room it belongs to, so a lookup through one room never reaches a
    /// listing of another.
    listings: HashMap<ListingId, (RoomId, Addr<InventoryActor>)>,
    /// One load at a time per room; waiters find the room started when they get the gate.
    gates: HashMap<RoomId, Arc<tokio::sync::Mutex<()>>>,
}

pub struct Directory {
    entries: Mutex<Entries>,
    store: Arc<dyn RoomStore>,
    leases: Arc<dyn Leases>,
    journal: Arc<dyn Journal>,
    clock: Arc<dyn Clock>,
    snapshots: Arc<dyn SnapshotStore>,
    settings: DirectorySettings,
    arbiters: Vec<Arbiter>,
    next_arbiter: AtomicUsize,
    /// Rooms passivated since start.
    passivated: AtomicUsize,
}

impl Directory {
    pub fn new(
        store: Arc<dyn RoomStore>,
        leases: Arc<dyn Leases>,
        journal: Arc<dyn Journal>,
        clock: Arc<dyn Clock>,
        snapshots: Arc<dyn SnapshotStore>,
        settings: DirectorySettings,
    ) -> Self {
        let arbiters = (0..settings.arbiters.max(1)).map(|_| Arbiter::new()).collect();
        Self {
            entries: Mutex::new(Entries::default()),
            store,
            leases,
            journal,
            clock,
            snapshots,
            settings,
            arbiters,
            next_arbiter: AtomicUsize::new(0),
            passivated: AtomicUsize::new(0),
        }
    }

    /// The room's actor, started on first use; `None` when the room does not exist, and
    /// `OwnedElsewhere` while another node holds its lease.
    pub async fn room(&self, room_id: RoomId) -> Result<Option<Addr<RoomActor>>, DirectoryError> {
        if let Some(addr) = self.running(room_id) {
            return Ok(Some(addr));
        }
        let gate = self.entries().gates.entry(room_id).or_default().clone();
        let loaded = {
            let _one_load = gate.lock().await;
            self.load(room_id).await
        };
        let mut entries = self.entries();
        // The map's and ours: nobody else waits on this gate, so it can go.
        if Arc::strong_count(&gate) == 2 {
            entries.gates.remove(&room_id);
        }
        loaded
    }

    /// The listing's InventoryActor if the listing belongs to the room; starts the room if
    /// needed, and picks up a listing placed since the room started.
    pub async fn inventory(
        &self,
        room_id: RoomId,
        listing_id: ListingId,
    ) -> Result<Option<Addr<InventoryActor>>, DirectoryError> {
        if let Some((owner, addr)) = self.entries().listings.get(&listing_id) {
            if *owner != room_id {
                return Ok(None);
            }
            if addr.connected() {
                return Ok(Some(addr.clone()));
            }
        }
        if self.room(room_id).await?.is_none() {
            return Ok(None);
        }
        if let Some((owner, addr)) = self.entries().listings.get(&listing_id) {
            return Ok((*owner == room_id).then(|| addr.clone()));
        }
        let Some(seed) = self.store.load_listing(room_id, listing_id).await? else {
            return Ok(None);
        };
        self.attach_listing(seed).await
    }

    /// Starts the actor of a listing placed into a room running here (a no-op when the room's
    /// load already picked it up; `None` when the room is not running here, as it will pick the
    /// listing up when it starts). Returns once the room has pushed its status into the new
    /// actor, so an order sent after this cannot overtake the status.
    pub async fn attach_listing(&self, seed: ListingSeed) -> Result<Option<Addr<InventoryActor>>, DirectoryError> {
        let (room_id, listing_id) = (seed.terms.room_id, seed.terms.listing_id);
        let (room, inventory, info) = {
            let mut entries = self.entries();
            if let Some((owner, addr)) = entries.listings.get(&listing_id) {
                return Ok((*owner == room_id).then(|| addr.clone()));
            }
            let Some(entry) = entries.rooms.get(&room_id) else {
                return Ok(None);
            };
            let (room, fence) = (entry.addr.clone(), entry.fence);
            // Scheduled until the room's AttachListing handler pushes the real status.
            let (inventory, info) = self.start_inventory(&mut entries, seed, RoomStatus::Scheduled, &room, fence);
            (room, inventory, info)
        };
        room.send(AttachListing {
            listing: info,
            inventory: inventory.clone(),
        })
        .await
        .map_err(|e| LoadError(format!("the room's actor stopped: {e}")))?;
        Ok(Some(inventory))
    }

    /// Renews the leases of every room running here; a room whose lease another node took is
    /// retired at once (its actors could not commit anyway).
    pub async fn renew_leases(&self) {
        let held: Vec<Fence> = self.entries().rooms.values().map(|e| e.fence).collect();
        if held.is_empty() {
            return;
        }
        match self.leases.renew(held).await {
            Ok(lost) => {
                for fence in lost {
                    tracing::warn!(room.id = %fence.room_id, lease.epoch = fence.epoch, "lease lost to another node; the room is retired here");
                    self.retire_incarnation(fence);
                }
            }
            Err(err) => tracing::warn!(error = %err, "leases could not be renewed; will retry"),
        }
    }

    /// Stops every room and gives their leases back, so another node can take them at once.
    /// Each listing's commits are answered and its snapshot written first, and each room's, so
    /// the next process resumes its chat and its listings without reading their orders.
    pub async fn release_all(&self) {
        let (rooms, listings): (Vec<Addr<RoomActor>>, Vec<Addr<InventoryActor>>) = {
            let entries = self.entries();
            let rooms = entries.rooms.values().map(|e| e.addr.clone()).collect();
            (rooms, entries.listings.values().map(|(_, addr)| addr.clone()).collect())
        };
        for listing in listings {
            let _ = listing.send(Drain).await;
        }
        for room in rooms {
            let _ = room.send(Persist).await;
        }
        // Viewers' sessions, told to go by now, have queued their snapshots: the next process
        // reads them.
        if let Err(err) = self.snapshots.flush().await {
            tracing::warn!(error = %err, "snapshots still queued at the stop were not all written");
        }
        let held: Vec<Fence> = {
            let mut entries = self.entries();
            let rooms: Vec<RoomId> = entries.rooms.keys().copied().collect();
            rooms
                .into_iter()
                .filter_map(|room_id| retire(&mut entries, room_id))
                .collect()
        };
        if held.is_empty() {
            return;
        }
        if let Err(err) = self.leases.release(held).await {
            tracing::warn!(error = %err, "leases could not be released; they expire by themselves");
        }
    }

    /// Tells every viewer of every room here to reconnect (close 1001): the process is
    /// shutting down. The rooms keep running until the process ends, so orders in flight finish.
    pub fn say_goodbye(&self) {
        for entry in self.entries().rooms.values() {
            entry.addr.do_send(GoAway);
        }
    }

    /// Stops every room that has had nobody connected and no listing activity for `idle_after`,
    /// so memory stays bounded by the rooms in use. See [`Directory::passivate`].
    pub async fn passivate_idle(&self, idle_after: std::time::Duration) -> usize {
        let rooms: Vec<(Fence, Addr<RoomActor>, Vec<Addr<InventoryActor>>)> = {
            let entries = self.entries();
            entries
                .rooms
                .values()
                .map(|e| {
                    let listings = e
                        .listings
                        .iter()
                        .filter_map(|id| entries.listings.get(id).map(|(_, addr)| addr.clone()))
                        .collect();
                    (e.fence, e.addr.clone(), listings)
                })
                .collect()
        };
        let mut stopped = 0;
        for (fence, room, listings) in rooms {
            if room.send(Occupancy).await.unwrap_or(1) > 0 {
                continue;
            }
            let mut quiet = true;
            for listing in &listings {
                let idle = listing.send(IdleFor).await.ok().flatten();
                quiet &= idle.is_some_and(|idle| idle >= idle_after);
            }
            if quiet && self.passivate(fence).await {
                stopped += 1;
            }
        }
        stopped
    }

    /// Stops one incarnation of a room: the room leaves the maps under its gate, so a request
    /// meanwhile waits for the next incarnation instead of starting one beside it; every change
    /// its actors already sent to the journal is answered (`Drain`); then the actors stop and
    /// the lease goes back. The next request rebuilds the room from storage under a new epoch.
    pub async fn passivate(&self, fence: Fence) -> bool {
        let room_id = fence.room_id;
        let gate = self.entries().gates.entry(room_id).or_default().clone();
        let _one_at_a_time = gate.lock().await;
        let listings: (Addr<RoomActor>, Vec<Addr<InventoryActor>>) = {
            let mut entries = self.entries();
            if entries.rooms.get(&room_id).is_none_or(|e| e.fence != fence) {
                return false;
            }
            let Some(entry) = entries.rooms.remove(&room_id) else {
                return false;
            };
            let listings = entry
                .listings
                .iter()
                .filter_map(|id| entries.listings.remove(id).map(|(_, addr)| addr))
                .collect();
            (entry.addr, listings)
        };
        let (room, listings) = listings;
        for listing in &listings {
            // A message that reached the old actor before it left the maps is decided and
            // answered there; later ones are turned away to the next incarnation.
            let _ = listing.send(Drain).await;
        }
        let _ = room.send(Persist).await;
        room.do_send(RetireRoom);
        if let Err(err) = self.leases.release(vec![fence]).await {
            tracing::warn!(room.id = %room_id, error = %err, "the passivated room's lease could not be released; it expires by itself");
        }
        metrics::counter!("livecart_rooms_passivated_total").increment(1);
        self.passivated.fetch_add(1, Ordering::Relaxed);
        tracing::info!(room.id = %room_id, lease.epoch = fence.epoch, "idle room passivated");
        let mut entries = self.entries();
        if Arc::strong_count(&gate) == 2 {
            entries.gates.remove(&room_id);
        }
        true
    }

    /// How many rooms were passivated since start.
    pub fn passivated_total(&self) -> usize {
        self.passivated.load(Ordering::Relaxed)
    }

    /// The store the actors snapshot into; a viewer's session keeps its own there too.
    pub fn snapshots(&self) -> Arc<dyn SnapshotStore> {
        self.snapshots.clone()
    }

    /// How many rooms run here.
    pub fn rooms_running(&self) -> usize {
        self.entries().rooms.len()
    }

    /// The running room, if it and every one of its listings' actors are alive; a room with a
    /// stopped actor is retired here, and its next load starts it afresh.
    fn running(&self, room_id: RoomId) -> Option<Addr<RoomActor>> {
        let mut entries = self.entries();
        let entry = entries.rooms.get(&room_id)?;
        let alive = entry.addr.connected()
            && entry
                .listings
                .iter()
                .all(|id| entries.listings.get(id).is_some_and(|(_, addr)| addr.connected()));
        if alive {
            return Some(entry.addr.clone());
        }
        tracing::warn!(room.id = %room_id, "an actor of the room stopped; the room restarts from storage under a new epoch");
        metrics::counter!("livecart_rooms_restarted_total").increment(1);
        retire(&mut entries, room_id);
        None
    }

    /// Retires the room if it still runs under this fence (not a newer incarnation).
    fn retire_incarnation(&self, fence: Fence) {
        let mut entries = self.entries();
        if entries.rooms.get(&fence.room_id).is_some_and(|e| e.fence == fence) {
            retire(&mut entries, fence.room_id);
        }
    }

    /// Takes the lease, then reads the room and starts its actors (unless a racing load did).
    async fn load(&self, room_id: RoomId) -> Result<Option<Addr<RoomActor>>, DirectoryError> {
        if let Some(addr) = self.running(room_id) {
            return Ok(Some(addr));
        }
        let epoch = match self.leases.acquire(room_id).await? {
            Acquired::Taken(epoch) => epoch,
            Acquired::HeldElsewhere => return Err(DirectoryError::OwnedElsewhere),
            Acquired::NoSuchRoom => return Ok(None),
        };
        let fence = Fence { room_id, epoch };
        let seed = match self.store.load_room(room_id).await {
            Ok(Some(seed)) => seed,
            other => {
                // Give the lease back: nothing runs under it.
                let _ = self.leases.release(vec![fence]).await;
                return other.map(|_| None).map_err(Into::into);
            }
        };
        // The chat and likes of the previous incarnation, if kept; a store that fails costs
        // viewers a resync, never the room.
        let restored = self.snapshots.load_room(room_id).await.unwrap_or_else(|err| {
            tracing::warn!(room.id = %room_id, error = %err, "room snapshot unavailable; the chat starts afresh");
            None
        });
        let mut entries = self.entries();
        Ok(Some(self.start_room(&mut entries, seed, fence, restored)))
    }

    fn start_room(
        &self,
        entries: &mut Entries,
        seed: RoomSeed,
        fence: Fence,
        restored: Option<RoomSnapshot>,
    ) -> Addr<RoomActor> {
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
            restored,
            title: seed.title.clone(),
            playback: seed.playback.clone(),
        };
        let (clock, config, snapshots) = (self.clock.clone(), self.settings.room, self.snapshots.clone());
        let room = RoomActor::start_in_arbiter(&self.pick_arbiter(), move |_ctx| {
            RoomActor::new(init, shards, clock, config, snapshots)
        });
        let mut listings = Vec::with_capacity(seed.listings.len());
        for listing in seed.listings {
            listings.push(listing.terms.listing_id);
            let (inventory, info) = self.start_inventory(entries, listing, seed.status, &room, fence);
            room.do_send(AttachListing {
                listing: info,
                inventory,
            });
        }
        let entry = RoomEntry {
            addr: room.clone(),
            fence,
            listings,
        };
        entries.rooms.insert(seed.room_id, entry);
        tracing::info!(room.id = %seed.room_id, lease.epoch = fence.epoch, "room started");
        room
    }

    fn start_inventory(
        &self,
        entries: &mut Entries,
        seed: ListingSeed,
        status: RoomStatus,
        room: &Addr<RoomActor>,
        fence: Fence,
    ) -> (Addr<InventoryActor>, ListingInfo) {
        let terms = seed.terms.clone();
        let state = InventoryState::rehydrate(
            seed.terms,
            status,
            seed.total_stock,
            self.settings.reservation_ttl,
            seed.holdings,
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
        let (journal, clock, snapshots) = (self.journal.clone(), self.clock.clone(), self.snapshots.clone());
        let (position, restored) = (seed.position, seed.restored);
        let watcher = room.clone().recipient();
        let arbiter = self.pick_arbiter();
        let addr = InventoryActor::start_in_arbiter(&arbiter, move |_ctx| {
            InventoryActor::new(state, fence, journal, clock, Some(watcher))
                .with_snapshots(snapshots, position, restored)
        });
        entries.listings.insert(terms.listing_id, (terms.room_id, addr.clone()));
        if let Some(entry) = entries.rooms.get_mut(&terms.room_id) {
            if !entry.listings.contains(&terms.listing_id) {
                entry.listings.push(terms.listing_id);
            }
        }
        (addr, info)
    }

    /// Forgets a listing withdrawn from its room (deleted): out of the maps and the room, and
    /// its actor retired, so a later lookup asks storage, which no longer has it. A no-op when
    /// the room does not run here.
    pub async fn detach_listing(&self, room_id: RoomId, listing_id: ListingId) {
        let (room, inventory) = {
            let mut entries = self.entries();
            let owned = entries
                .listings
                .get(&listing_id)
                .is_some_and(|(owner, _)| *owner == room_id);
            let inventory = owned
                .then(|| entries.listings.remove(&listing_id).map(|(_, addr)| addr))
                .flatten();
            let room = entries.rooms.get_mut(&room_id).map(|entry| {
                entry.listings.retain(|id| *id != listing_id);
                entry.addr.clone()
            });
            (room, inventory)
        };
        if let Some(room) = room {
            let _ = room.send(crate::room::DetachListing { listing_id }).await;
        }
        if let Some(inventory) = inventory {
            inventory.do_send(Retire);
        }
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

/// Removes the room and its listings from the maps and stops their actors; the fence it ran
/// under, if it was running.
fn retire(entries: &mut Entries, room_id: RoomId) -> Option<Fence> {
    let entry = entries.rooms.remove(&room_id)?;
    for listing_id in &entry.listings {
        if let Some((_, addr)) = entries.listings.remove(listing_id) {
            addr.do_send(Retire);
        }
    }
    entry.addr.do_send(RetireRoom);
    Some(entry.fence)
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
