//! The outbox relay: publishes committed events in commit order, at least once.
//!
//! It wakes when the journal commits (or every second, for events written elsewhere), publishes
//! what is unpublished as one batch, and marks it. An event whose delivery fails stays unpublished and is
//! tried again; handlers dedupe by event id, so a repeat changes nothing.

use super::event_bus::EventBus;
use super::repos::Storage;
use livecart_actors::events::DomainEvent;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Events per batch: large, because on SQLite each batch's writes wait for the journal's lock and
/// pay a sync, so fewer, bigger batches keep the relay level with a flash sale.
const BATCH: i64 = 2_000;
const IDLE_POLL: Duration = Duration::from_secs(1);
const RETRY_PAUSE: Duration = Duration::from_millis(200);

pub fn spawn(storage: Storage, bus: Arc<dyn EventBus>, committed: Arc<Notify>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
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
    })
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
