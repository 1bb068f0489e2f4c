//! The outbox relay: publishes committed events in commit order, at least once.
//!
//! It wakes when the journal commits (or every second, for events written elsewhere), publishes
//! what is unpublished, and marks it. An event whose delivery fails stays unpublished and is
//! tried again; handlers dedupe by event id, so a repeat changes nothing.

use super::event_bus::EventBus;
use super::repos::Storage;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

const BATCH: i64 = 500;
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

/// Publishes one batch; returns how many events went out.
async fn relay_once(storage: &Storage, bus: &dyn EventBus) -> anyhow::Result<usize> {
    let pending = storage.unpublished_events(BATCH).await?;
    let mut published = Vec::with_capacity(pending.len());
    let mut failure = None;
    for item in pending {
        // Stop at the first failure so events stay in order.
        if let Err(err) = bus.publish(item.event).await {
            failure = Some(err);
            break;
        }
        published.push(item.seq);
    }
    let count = published.len();
    if count > 0 {
        storage.mark_published(published).await?;
        metrics::counter!("livecart_outbox_published_total").increment(count as u64);
    }
    match failure {
        Some(err) => Err(err.into()),
        None => Ok(count),
    }
}
