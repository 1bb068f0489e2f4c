//! How fast one listing decides reservations in process:
//! `cargo bench -p livecart-actors --bench inventory`.
//!
//! DESIGN.md ("Performance targets") asks an InventoryActor to decide ≥ 1M reservations per
//! second per core. Six benches split that claim into its layers, so a shortfall points at its
//! cause:
//!
//! - `state/reserve` — the rules alone, `InventoryState::reserve`, one flash listing with huge
//!   stock and many distinct buyers (the hot path of a flash sale), no key;
//! - `state/reserve_with_key` — the same with an `Idempotency-Key`, which real clients send;
//! - `actor/same_thread` and `actor/cross_thread` — the InventoryActor around the state, through
//!   its mailbox, with a journal that commits nothing but acknowledges per batch as the real one
//!   does: what is left is the actor's own cost per message (the mailbox, the `order.created`
//!   event, the entry queued, its share of the batch's notification, the reply). `cross_thread`
//!   puts the actor on its own arbiter as the server does, so the hop between an HTTP worker and
//!   the actor's thread is counted too.
//! - `actor/same_thread_gathered` and `actor/cross_thread_gathered` — the same, sent as the
//!   server sends them: `inventory::reserve`, which gathers the reserves a thread sends one
//!   listing in a turn into one message and takes their answers back together.
//!
//! The actor benches are closed loops: the journal answers a batch once the actor has yielded,
//! so the sender and the actor mostly take turns, and `cross_thread` measures the two threads'
//! costs added up plus the hops, not what the actor's core alone could decide.
//!
//! - `actor/cross_thread_gathered_actor_cpu` — `cross_thread_gathered` again, timed by the CPU
//!   time of the actor's own thread instead of the wall clock: reservations per second of the
//!   core the listing runs on, which is what "per core" in the target means. Everything that
//!   thread does for a reservation counts (its mailbox, waking up and going back to sleep, the
//!   batch's acknowledgement, the replies); the sender's thread does not.
//!
//! Each sample starts from a fresh listing, so the state's maps grow as they do during a sale
//! and the samples stay independent.

use actix::prelude::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures_util::stream::{FuturesUnordered, StreamExt};
use livecart_actors::ids::new_id;
use livecart_actors::inventory::{
    self, InventoryActor, InventoryState, ListingTerms, Placed, Reserve, ReserveRequest, Reserved, MAX_ORDER_QUANTITY,
};
use livecart_actors::journal::{tell_listeners, Journal, JournalEntry, JournalError, Listener};
use livecart_actors::lease::Fence;
use livecart_actors::room::RoomStatus;
use livecart_actors::{RoomId, SystemClock, UserId};
use std::hint::black_box;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Distinct buyers the requests cycle through. With the per-user limit at its maximum (10 000)
/// no buyer can reach it before a sample has a billion reservations, so only stock and the maps
/// are exercised, as on a hot listing with a crowd.
const BUYERS: usize = 100_000;

/// Units on sale: far more than any sample reserves, so `SoldOut` never ends a sample early.
const STOCK: u64 = 1 << 40;

/// Reserves in flight against the actor at once: the load bench's 64 HTTP connections.
const IN_FLIGHT: usize = 64;

/// A journal that writes nothing, so the actor benches measure the actor and not storage (the
/// SQL journal is measured end to end by the `load` bench), but acknowledges as the real one
/// does: per batch, once to each actor with entries in it. A batch is everything appended until
/// the appending thread next runs another task (the actor yields), where the real journal's
/// batch is everything queued while the previous one committed.
#[derive(Default)]
struct BatchingJournal {
    /// Whoever appended each entry of the batch being gathered, in order.
    batch: Arc<Mutex<Vec<Listener>>>,
}

impl Journal for BatchingJournal {
    fn append(&self, _fence: Fence, _entry: JournalEntry, listener: &Listener) -> Result<(), JournalError> {
        let mut batch = self.batch.lock().unwrap_or_else(PoisonError::into_inner);
        if batch.is_empty() {
            // The first entry of a batch: answer the batch once the actor has yielded.
            let gathered = self.batch.clone();
            actix::spawn(async move {
                let listeners = std::mem::take(&mut *gathered.lock().unwrap_or_else(PoisonError::into_inner));
                let outcomes = vec![Ok(()); listeners.len()];
                tell_listeners(listeners, outcomes);
            });
        }
        batch.push(listener.clone());
        Ok(())
    }
}

/// One flash listing of a live room, as a merchant would place it.
fn hot_listing(room_id: RoomId) -> InventoryState {
    let terms = ListingTerms {
        listing_id: new_id(),
        room_id,
        price_cents: 3900,
        per_user_limit: MAX_ORDER_QUANTITY,
        starts_at: None,
        ends_at: None,
    };
    InventoryState::new(terms, RoomStatus::Live, STOCK, chrono::Duration::minutes(15))
}

/// `n` requests for one unit each, cycling through the buyers; built outside the timed loop
/// because the server builds them in the HTTP worker, before the actor is reached.
fn requests(buyers: &[UserId], n: u64, with_key: bool) -> Vec<ReserveRequest> {
    (0..n)
        .map(|i| ReserveRequest {
            order_id: new_id(),
            user_id: buyers[i as usize % buyers.len()],
            quantity: 1,
            idempotency_key: with_key.then(|| format!("key-{i}")),
        })
        .collect()
}

fn reserve_on_the_state(c: &mut Criterion) {
    let buyers: Vec<UserId> = (0..BUYERS).map(|_| new_id()).collect();
    let mut group = c.benchmark_group("state");
    group.throughput(Throughput::Elements(1));
    for (name, with_key) in [("reserve", false), ("reserve_with_key", true)] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut state = hot_listing(new_id());
                let batch = requests(&buyers, iters, with_key);
                let now = chrono::Utc::now();
                let started = Instant::now();
                let mut placed = 0u64;
                for request in batch {
                    if let Ok(Reserved::New(order)) = state.reserve(request, now) {
                        black_box(order);
                        placed += 1;
                    }
                }
                let elapsed = started.elapsed();
                assert_eq!(placed, iters, "every reservation must succeed");
                elapsed
            });
        });
    }
    group.finish();
}

/// Sends every request through the actor's mailbox with `IN_FLIGHT` awaiting replies at once,
/// and fails loudly unless each one placed a new order. `gathered`: as the server sends them
/// (`inventory::reserve`, the reserves of one turn of the thread in one message); otherwise one
/// `Addr::send` each.
async fn drive(actor: Addr<InventoryActor>, room_id: RoomId, batch: Vec<ReserveRequest>, gathered: bool) {
    let total = batch.len();
    let mut batch = batch.into_iter();
    let mut in_flight = FuturesUnordered::new();
    let mut placed = 0usize;
    loop {
        while in_flight.len() < IN_FLIGHT {
            let Some(request) = batch.next() else { break };
            let reserve = Reserve::new(room_id, request);
            let actor = actor.clone();
            in_flight.push(async move {
                if gathered {
                    inventory::reserve(&actor, reserve).await
                } else {
                    actor.send(reserve).await
                }
            });
        }
        let Some(reply) = in_flight.next().await else {
            break;
        };
        match reply {
            Ok(Ok(Placed::New(order))) => {
                black_box(order);
                placed += 1;
            }
            other => panic!("a reservation failed: {other:?}"),
        }
    }
    assert_eq!(placed, total, "every reservation must succeed");
}

/// CPU time the calling thread has used so far (Linux: the first field of its `schedstat`).
fn thread_cpu() -> Duration {
    let nanos = std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|stat| stat.split_whitespace().next()?.parse().ok())
        .expect("/proc/thread-self/schedstat is readable");
    Duration::from_nanos(nanos)
}

/// [`thread_cpu`] of the arbiter's thread, read on it.
fn cpu_of(arbiter: &ArbiterHandle) -> Duration {
    let (reply, read) = std::sync::mpsc::channel();
    assert!(arbiter.spawn_fn(move || {
        let _ = reply.send(thread_cpu());
    }));
    read.recv().expect("the arbiter answers")
}

/// How a sample is sent and timed.
struct Variant {
    name: &'static str,
    /// The actor on an arbiter of its own, as the server runs it.
    own_thread: bool,
    /// Sent as the server sends them: `inventory::reserve`.
    gathered: bool,
    /// Timed by the actor thread's CPU time rather than the wall clock.
    actor_cpu: bool,
}

fn reserve_through_the_actor(c: &mut Criterion) {
    let buyers: Vec<UserId> = (0..BUYERS).map(|_| new_id()).collect();
    let system = System::new();
    // The System registered above is what `Arbiter::new` requires on this thread.
    let arbiter = system.block_on(async { Arbiter::new() });
    let journal: Arc<dyn Journal> = Arc::new(BatchingJournal::default());
    let mut group = c.benchmark_group("actor");
    group.throughput(Throughput::Elements(1));
    let variant = |name, own_thread, gathered, actor_cpu| Variant {
        name,
        own_thread,
        gathered,
        actor_cpu,
    };
    let variants = [
        variant("same_thread", false, false, false),
        variant("cross_thread", true, false, false),
        variant("same_thread_gathered", false, true, false),
        variant("cross_thread_gathered", true, true, false),
        variant("cross_thread_gathered_actor_cpu", true, true, true),
    ];
    for Variant {
        name,
        own_thread,
        gathered,
        actor_cpu,
    } in variants
    {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let room_id = new_id();
                let batch = requests(&buyers, iters, false);
                let fence = Fence { room_id, epoch: 1 };
                let actor = InventoryActor::new(
                    hot_listing(room_id),
                    fence,
                    journal.clone(),
                    Arc::new(SystemClock),
                    None,
                );
                system.block_on(async {
                    let addr = if own_thread {
                        InventoryActor::start_in_arbiter(&arbiter.handle(), |_| actor)
                    } else {
                        actor.start()
                    };
                    let (started, cpu_before) = (Instant::now(), actor_cpu.then(|| cpu_of(&arbiter.handle())));
                    drive(addr, room_id, batch, gathered).await;
                    match cpu_before {
                        Some(before) => cpu_of(&arbiter.handle()) - before,
                        None => started.elapsed(),
                    }
                })
            });
        });
    }
    group.finish();
    arbiter.stop();
    arbiter.join().expect("the bench arbiter ran no panicking code");
}

criterion_group! {
    name = benches;
    // 3 s per bench keeps the whole run near a minute on the 2-core machine; the spread between
    // samples, not their number, is what the noise of a shared machine calls for.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(3));
    targets = reserve_on_the_state, reserve_through_the_actor
}
criterion_main!(benches);
