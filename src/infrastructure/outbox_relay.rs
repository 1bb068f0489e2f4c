//! The outbox relay: publishes committed events in commit order, at least once.
//!
//! It wakes when the journal commits (or every second, for events written elsewhere), publishes
//! what is unpublished as one batch, and marks it. An event whose delivery fails stays unpublished and is
//! tried again; handlers dedupe by event id, so a repeat changes nothing.

use super::event_bus::EventBus;
use super::repos::Storage;
use livecart_actors::events::DomainEvent;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Events per batch: large, because on SQLite each batch's writes wait for the journal's lock and
/// pay a sync, so fewer, bigger batches keep the relay level with a flash sale.
const BATCH: i64 = 2_000;
const IDLE_POLL: Duration = Duration::from_secs(1);
const RETRY_PAUSE: Duration = Duration::from_millis(200);

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
    loop {
        health.beat();
        match relay_once(&storage, bus.as_ref()).await {
            Ok(0) => {
                let _ = tokio::time::timeout(IDLE_POLL, committed.notified()).await;
            }
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(error = %err, "outbox relay will retry");
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
    }
}

/// Publishes one batch, in commit order, and marks it; returns how many events went out. A
/// failed batch stays unpublished and is delivered again whole (handlers dedupe by event id).
async fn relay_once(storage: &Storage, bus: &dyn EventBus) -> anyhow::Result<usize> {
    let pending = storage.unpublished_events(BATCH).await?;
    if pending.is_empty() {
        return Ok(0);
    }
    let seqs: Vec<i64> = pending.iter().map(|p| p.seq).collect();
    let events: Arc<[DomainEvent]> = pending.into_iter().map(|p| p.event).collect();
    bus.publish(events).await?;
    let count = seqs.len();
    storage.mark_published(seqs).await?;
    metrics::counter!("livecart_outbox_published_total").increment(count as u64);
    Ok(count)
}
