//! The outbox relay: publishes committed events in commit order, at least once.
//!
//! It wakes when the journal commits (or every second, for events written elsewhere), publishes
//! the events after its position as one batch, and moves its position past them only once the
//! bus has taken them (for Redis: once Redis answered the XADDs). The journal hands it the events
//! it committed ([`CommittedFeed`]); it reads `outbox_batches` only when those do not continue its
//! position (events written elsewhere, a restart, a failed delivery) and after a quiet second.
//! After each batch it lets [`GATHER`] pass, so a round carries several commits. A batch whose delivery fails is tried again,
//! with a growing pause while the bus is away; handlers dedupe by event id, so a repeat changes
//! nothing. Orders never wait for the relay: the journal commits them with their outbox rows.
//!
//! What it reads from the table it publishes only after the journal's log has been made durable
//! past it ([`LogBarrier`]): the table shows a journal batch's events from its commit, a sync
//! before the batch is answered, and an event published in between could name an order that a
//! power cut takes back. The feed's events come after their batch's sync already.
//!
//! The position ([`RelayPosition`]) is saved by the journal, in its next batch, and by the relay
//! itself only when the journal has left it unsaved for [`SAVE_WITHIN`]: see
//! `RelayPosition` for why. After a crash the events published since the last save go out
//! again, which at-least-once delivery allows.

use super::backoff::Backoff;
use super::committed_feed::{CommittedFeed, Take};
use super::event_bus::EventBus;
use super::journal::LogBarrier;
use super::repos::outbox::{AppendedEvents, RelayPosition, UNPUBLISHED_BATCH};
use super::repos::Storage;
use livecart_actors::events::DomainEvent;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const IDLE_POLL: Duration = Duration::from_secs(1);
const RETRY_PAUSE: Duration = Duration::from_millis(200);
/// The longest pause between attempts while the bus or the database is away: well inside the
/// 10 s in which `/readyz` expects the loop to come round.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(5);
/// How long the relay lets its position go unsaved before it saves it itself: normally the
/// journal saves it in its next batch, but when no orders come (the relay caught up, or catching
/// up after a restart) it needs its own: a quiet relay has saved what it published within this
/// plus [`IDLE_POLL`].
const SAVE_WITHIN: Duration = Duration::from_secs(1);
/// After publishing a batch the relay lets this pass before it takes the next, so that during a
/// sale one round carries the events of several journal commits: each round wakes the relay's
/// thread and has the coupon consumer read its rooms' campaigns once, and the journal commits
/// hundreds of times a second. Events are at most this much later for it; orders never wait.
const GATHER: Duration = Duration::from_millis(10);

/// Saves what the relay has published, when the app stops: a clean stop leaves nothing to deliver
/// again (what the relay publishes after this is, on the next start).
pub async fn save_on_stop(storage: &Storage, position: &RelayPosition) {
    save_position(storage, position, true).await;
}

/// Saves the relay's position itself when it moved and `due`; a failed save is tried again at
/// the next chance (meanwhile the relay goes on from its position in memory).
async fn save_position(storage: &Storage, position: &RelayPosition, due: bool) {
    let Some(seq) = position.unsaved().filter(|_| due) else {
        return;
    };
    match storage.save_published(seq).await {
        Ok(()) => position.saved(seq),
        Err(err) => {
            tracing::warn!(error = %err, relay.position = seq, "could not save the outbox relay's position; will try again")
        }
    }
}

/// The relay's sign of life for `/readyz`: when its loop last came round (unix millis).
#[derive(Debug, Default)]
pub struct RelayHealth {
    last_beat_ms: AtomicI64,
}

impl RelayHealth {
    fn beat(&self) {
        self.last_beat_ms
            .store(chrono::Utc::now().timestamp_millis(), Ordering::Relaxed);
    }

    /// Healthy when the loop came round within `grace` (it does at least every second).
    pub fn is_healthy(&self, grace: Duration) -> bool {
        let last = self.last_beat_ms.load(Ordering::Relaxed);
        chrono::Utc::now().timestamp_millis() - last < grace.as_millis() as i64
    }
}

/// Runs the relay, and runs it again if it ever panics: events must not stop flowing because of
/// one bad batch (what was not marked published is delivered again; handlers dedupe).
pub fn spawn(
    storage: Storage,
    bus: Arc<dyn EventBus>,
    committed: Arc<CommittedFeed>,
    position: Arc<RelayPosition>,
    barrier: LogBarrier,
) -> Arc<RelayHealth> {
    let health = Arc::new(RelayHealth::default());
    health.beat();
    let watched = health.clone();
    tokio::spawn(async move {
        loop {
            let run = tokio::spawn(relay(
                storage.clone(),
                bus.clone(),
                committed.clone(),
                position.clone(),
                barrier.clone(),
                watched.clone(),
            ));
            match run.await {
                Err(err) if err.is_panic() => {
                    tracing::error!(error = %err, "the outbox relay panicked; restarting it");
                    metrics::counter!("livecart_outbox_relay_restarts_total").increment(1);
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                // Cancelled: the runtime is shutting down.
                _ => return,
            }
        }
    });
    health
}

async fn relay(
    storage: Storage,
    bus: Arc<dyn EventBus>,
    committed: Arc<CommittedFeed>,
    position: Arc<RelayPosition>,
    barrier: LogBarrier,
    health: Arc<RelayHealth>,
) {
    let mut backoff = Backoff::new(RETRY_PAUSE, MAX_RETRY_PAUSE);
    // Where this run starts: after what it published before a restart, else after the saved
    // position (the read takes the later of the two).
    let mut published = position.published();
    // When the saved position last moved (whoever saved it).
    let (mut last_saved, mut saved_moved) = (position.last_saved(), Instant::now());
    // When the relay last read the table; none yet, so it starts there.
    let mut read_table: Option<Instant> = None;
    loop {
        health.beat();
        let source = Source {
            storage: &storage,
            committed: &committed,
            barrier: &barrier,
        };
        let outcome = relay_once(&source, bus.as_ref(), &mut published, &mut read_table).await;
        position.publish(published);
        if position.last_saved() != last_saved {
            (last_saved, saved_moved) = (position.last_saved(), Instant::now());
        }
        if outcome.is_ok() {
            let failures = backoff.succeed();
            if failures > 0 {
                tracing::info!(relay.failures = failures, "outbox relay publishing again");
            }
        }
        // Caught up or not, the journal saves the position with its next batch; the relay saves
        // it itself only once the journal has left it unsaved for a while (no orders coming).
        let due = saved_moved.elapsed() >= SAVE_WITHIN;
        match outcome {
            Ok(0) => {
                save_position(&storage, &position, due).await;
                if !committed.wait(IDLE_POLL).await {
                    // A quiet second: look in the table for events written beside the journal.
                    read_table = None;
                }
            }
            Ok(_) => {
                save_position(&storage, &position, due).await;
                tokio::time::sleep(GATHER).await;
            }
            Err(err) => {
                // The batch left the feed: it is delivered again from the table.
                read_table = None;
                metrics::counter!("livecart_outbox_relay_failures_total").increment(1);
                let pause = backoff.fail();
                tracing::warn!(error = %err, relay.retry_in_ms = pause.as_millis() as u64, "outbox relay will retry");
                tokio::time::sleep(pause).await;
            }
        }
    }
}

/// Where the relay's events come from: the journal's feed, or the table past the log's barrier.
struct Source<'a> {
    storage: &'a Storage,
    committed: &'a CommittedFeed,
    barrier: &'a LogBarrier,
}

impl Source<'_> {
    /// The table's events after `published`, once every one of them is durable: read first, then
    /// a sync that began after the read (what was read had committed before it).
    async fn read_table(&self, published: i64) -> anyhow::Result<Vec<AppendedEvents>> {
        let read = self.storage.unpublished_events(published).await?;
        if read.is_empty() {
            return Ok(read);
        }
        let barrier = self.barrier.clone();
        if !tokio::task::spawn_blocking(move || barrier.pass()).await? {
            anyhow::bail!("the journal has stopped: what it wrote last may not be durable");
        }
        Ok(read)
    }
}

/// Publishes one batch, in commit order, and moves `published` past it; returns how many events
/// went out. A failed batch is delivered again whole (handlers dedupe by event id), read from the
/// table: the feed gave its events up. With nothing in the feed the table is read only when
/// `read_table` is unset or [`IDLE_POLL`] old, for events written beside the journal that no
/// later batch revealed as a gap.
async fn relay_once(
    source: &Source<'_>,
    bus: &dyn EventBus,
    published: &mut i64,
    read_table: &mut Option<Instant>,
) -> anyhow::Result<usize> {
    let pending = match source.committed.take_after(*published, UNPUBLISHED_BATCH) {
        Take::Events(pending) => pending,
        Take::Nothing if read_table.is_some_and(|at| at.elapsed() < IDLE_POLL) => Vec::new(),
        Take::Nothing | Take::Gap => {
            *read_table = Some(Instant::now());
            source.read_table(*published).await?
        }
    };
    let lag = pending
        .iter()
        .flat_map(|row| row.events.first())
        .next()
        .map(|oldest| (chrono::Utc::now() - oldest.at).to_std().unwrap_or_default());
    metrics::gauge!("livecart_outbox_lag_seconds").set(lag.unwrap_or_default().as_secs_f64());
    let Some(last) = pending.last().map(|row| row.seq) else {
        return Ok(0);
    };
    let events: Arc<[DomainEvent]> = pending.into_iter().flat_map(|row| row.events).collect();
    let count = events.len();
    bus.publish(events).await?;
    *published = last;
    metrics::counter!("livecart_outbox_published_total").increment(count as u64);
    Ok(count)
}
