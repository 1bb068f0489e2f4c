//! The outbox relay: publishes committed events in commit order, at least once.
//!
//! It wakes when the journal commits (or every second, for events written elsewhere), publishes
//! the events after its position as one batch, and moves its position past them only once the
//! bus has taken them (for Redis: once Redis answered the XADDs). A batch whose delivery fails is
//! tried again, with a growing pause while the bus is away; handlers dedupe by event id, so a
//! repeat changes nothing. Orders never wait for the relay: the journal commits them with their
//! outbox rows.
//!
//! The position is kept in memory and saved at most every [`SAVE_EVERY`] (and whenever the relay
//! has caught up), not per batch: during a sale a write per batch on its own connection was a
//! commit of its own, and on SQLite it also made the journal's connection drop its page cache.
//! After a crash the events published since the last save go out again, which at-least-once
//! delivery allows.

use super::backoff::Backoff;
use super::event_bus::EventBus;
use super::repos::Storage;
use livecart_actors::events::DomainEvent;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

const IDLE_POLL: Duration = Duration::from_secs(1);
const RETRY_PAUSE: Duration = Duration::from_millis(200);
/// The longest pause between attempts while the bus or the database is away: well inside the
/// 10 s in which `/readyz` expects the loop to come round.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(5);
/// The longest the relay publishes without saving its position: what a crash may deliver again.
const SAVE_EVERY: Duration = Duration::from_millis(250);

/// How far the relay has published, and how far that is saved.
struct Position {
    /// Every event up to this seq is published (0: as far as the saved position says).
    published: i64,
    saved: i64,
    saved_at: Instant,
}

impl Position {
    /// Saves the position when it moved and `due`; a failed save is tried again at the next
    /// chance (meanwhile the relay goes on from its position in memory).
    async fn save(&mut self, storage: &Storage, due: bool) {
        if self.published == self.saved || !due {
            return;
        }
        match storage.save_published(self.published).await {
            Ok(()) => {
                self.saved = self.published;
                self.saved_at = Instant::now();
            }
            Err(err) => tracing::warn!(error = %err, relay.position = self.published, "could not save the outbox relay's position; will try again"),
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
pub fn spawn(storage: Storage, bus: Arc<dyn EventBus>, committed: Arc<Notify>) -> Arc<RelayHealth> {
    let health = Arc::new(RelayHealth::default());
    health.beat();
    let watched = health.clone();
    tokio::spawn(async move {
        loop {
            let run = tokio::spawn(relay(storage.clone(), bus.clone(), committed.clone(), watched.clone()));
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

async fn relay(storage: Storage, bus: Arc<dyn EventBus>, committed: Arc<Notify>, health: Arc<RelayHealth>) {
    let mut backoff = Backoff::new(RETRY_PAUSE, MAX_RETRY_PAUSE);
    let mut position = Position {
        published: 0,
        saved: 0,
        saved_at: Instant::now(),
    };
    loop {
        health.beat();
        let outcome = relay_once(&storage, bus.as_ref(), &mut position.published).await;
        if outcome.is_ok() {
            let failures = backoff.succeed();
            if failures > 0 {
                tracing::info!(relay.failures = failures, "outbox relay publishing again");
            }
        }
        match outcome {
            Ok(0) => {
                position.save(&storage, true).await;
                let _ = tokio::time::timeout(IDLE_POLL, committed.notified()).await;
            }
            Ok(_) => {
                let due = position.saved_at.elapsed() >= SAVE_EVERY;
                position.save(&storage, due).await;
            }
            Err(err) => {
                metrics::counter!("livecart_outbox_relay_failures_total").increment(1);
                let pause = backoff.fail();
                tracing::warn!(error = %err, relay.retry_in_ms = pause.as_millis() as u64, "outbox relay will retry");
                tokio::time::sleep(pause).await;
            }
        }
    }
}

/// Publishes one batch, in commit order, and moves `published` past it; returns how many events
/// went out. A failed batch is delivered again whole (handlers dedupe by event id).
async fn relay_once(storage: &Storage, bus: &dyn EventBus, published: &mut i64) -> anyhow::Result<usize> {
    let pending = storage.unpublished_events(*published).await?;
    let lag = pending
        .first()
        .map(|oldest| (chrono::Utc::now() - oldest.event.at).to_std().unwrap_or_default());
    metrics::gauge!("livecart_outbox_lag_seconds").set(lag.unwrap_or_default().as_secs_f64());
    if pending.is_empty() {
        return Ok(0);
    }
    let last = pending.last().map_or(*published, |p| p.seq);
    let events: Arc<[DomainEvent]> = pending.into_iter().map(|p| p.event).collect();
    let count = events.len();
    bus.publish(events).await?;
    *published = last;
    metrics::counter!("livecart_outbox_published_total").increment(count as u64);
    Ok(count)
}
