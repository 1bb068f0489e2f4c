//! Coalesced, batched snapshot writes shared by both adapters.

use super::{fail, SnapshotKey, TIMEOUT};
use crate::infrastructure::lock;
use futures_util::future::BoxFuture;
use livecart_actors::snapshot::SnapshotError;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{oneshot, Notify};

/// How long a flush waits for more snapshots to join it once one is waiting.
const GATHER: Duration = Duration::from_millis(20);

/// How often the store is checked for lost data when nothing is being written.
const CHECK_EVERY: Duration = Duration::from_secs(2);

type Reply = oneshot::Sender<Result<(), SnapshotError>>;

/// Where a batch of snapshots lands, in one round trip.
pub(super) trait Sink: Send + Sync + 'static {
    /// Writes every snapshot in `batch`. Answers whether the store had lost what was written to
    /// it before (a Redis that restarted empty): every snapshot must then be written again.
    fn write(&self, batch: Vec<(SnapshotKey, String)>) -> BoxFuture<'static, Result<bool, SnapshotError>>;
}

struct Waiting {
    body: String,
    replies: Vec<Reply>,
}

#[derive(Default)]
struct Queue {
    waiting: Mutex<HashMap<SnapshotKey, Waiting>>,
    /// The batch being written, until its write ends: with `waiting`, what a read must see
    /// before the store has it.
    writing: Mutex<HashMap<SnapshotKey, String>>,
    /// Callers of [`WriteBehind::flush`], answered after the next write.
    barriers: Mutex<Vec<Reply>>,
    wake: Notify,
}

pub(super) struct WriteBehind {
    queue: Arc<Queue>,
    generation: Arc<AtomicU64>,
}

impl WriteBehind {
    /// Starts the flushing task on the current Tokio runtime; it ends with the last handle.
    pub(super) fn start(sink: impl Sink) -> Self {
        let queue = Arc::new(Queue::default());
        let generation = Arc::new(AtomicU64::new(0));
        tokio::spawn(flush_forever(Arc::downgrade(&queue), sink, generation.clone()));
        Self { queue, generation }
    }

    /// Queues the snapshot, replacing one of the same key not yet written; resolves once it is
    /// written (or its flush failed).
    pub(super) fn save(&self, key: SnapshotKey, body: String) -> BoxFuture<'static, Result<(), SnapshotError>> {
        enqueue(&self.queue, key, body)
    }

    /// [`save`](Self::save) of the snapshot as JSON.
    pub(super) fn save_json(
        &self,
        key: SnapshotKey,
        snapshot: &impl serde::Serialize,
    ) -> BoxFuture<'static, Result<(), SnapshotError>> {
        match serde_json::to_string(snapshot) {
            Ok(body) => self.save(key, body),
            Err(err) => Box::pin(async move { Err(fail(err)) }),
        }
    }

    /// [`save_json`](Self::save_json), encoded on a blocking thread: a hot listing's snapshot (its
    /// holdings of hundreds of thousands of orders) took a quarter of a second to encode, on
    /// the arbiter thread the listing's room actor shares.
    pub(super) fn save_json_off_thread<T>(
        &self,
        key: SnapshotKey,
        snapshot: T,
    ) -> BoxFuture<'static, Result<(), SnapshotError>>
    where
        T: serde::Serialize + Send + 'static,
    {
        let queue = self.queue.clone();
        Box::pin(async move {
            let body = tokio::task::spawn_blocking(move || serde_json::to_string(&snapshot))
                .await
                .map_err(fail)?
                .map_err(fail)?;
            enqueue(&queue, key, body).await
        })
    }

    /// Resolves once everything queued before the call is written (or its write failed): the
    /// last step of a graceful stop, so the next process reads what this one saved.
    pub(super) fn flush(&self) -> BoxFuture<'static, Result<(), SnapshotError>> {
        let (reply, written) = oneshot::channel();
        lock(&self.queue.barriers).push(reply);
        self.queue.wake.notify_one();
        Box::pin(async move {
            match tokio::time::timeout(TIMEOUT * 2, written).await {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(_)) => Err(SnapshotError("the snapshot writer stopped".into())),
                Err(_) => Err(SnapshotError("the snapshot flush timed out".into())),
            }
        })
    }

    /// The newest snapshot of `key` handed to this process's writer and not yet in the store: a
    /// read that follows a save (a viewer reconnecting the moment its last session ended) must
    /// see it, not what the store held before.
    pub(super) fn unwritten<T: serde::de::DeserializeOwned>(
        &self,
        key: SnapshotKey,
    ) -> Option<Result<T, SnapshotError>> {
        let body = match lock(&self.queue.waiting).get(&key) {
            Some(waiting) => waiting.body.clone(),
            None => lock(&self.queue.writing).get(&key).cloned()?,
        };
        Some(serde_json::from_str(&body).map_err(fail))
    }

    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }
}

/// Queues the snapshot on `queue`, replacing one of the same key not yet written; resolves once
/// it is written (or its flush failed).
fn enqueue(queue: &Queue, key: SnapshotKey, body: String) -> BoxFuture<'static, Result<(), SnapshotError>> {
    let (reply, written) = oneshot::channel();
    {
        let mut waiting = lock(&queue.waiting);
        let entry = waiting.entry(key).or_insert_with(|| Waiting {
            body: String::new(),
            replies: Vec::new(),
        });
        entry.body = body;
        entry.replies.push(reply);
    }
    queue.wake.notify_one();
    Box::pin(async move {
        match tokio::time::timeout(TIMEOUT * 2, written).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(SnapshotError("the snapshot writer stopped".into())),
            Err(_) => Err(SnapshotError("the snapshot write timed out".into())),
        }
    })
}

async fn flush_forever(queue: std::sync::Weak<Queue>, sink: impl Sink, generation: Arc<AtomicU64>) {
    loop {
        let Some(wake) = queue.upgrade() else { return };
        // Wakes on a new snapshot, or now and then to look for lost data with an empty batch.
        let _ = tokio::time::timeout(CHECK_EVERY, wake.wake.notified()).await;
        tokio::time::sleep(GATHER).await;
        let (bodies, replies) = {
            let mut waiting = lock(&wake.waiting);
            let mut writing = lock(&wake.writing);
            // Barriers set before this drain wait for what it takes (earlier batches are done).
            let barriers = std::mem::take(&mut *lock(&wake.barriers));
            let (bodies, mut replies): (Vec<_>, Vec<_>) = waiting
                .drain()
                .map(|(key, waiting)| {
                    writing.insert(key, waiting.body.clone());
                    ((key, waiting.body), waiting.replies)
                })
                .unzip();
            replies.push(barriers);
            (bodies, replies)
        };
        let size = bodies.len();
        let outcome = match tokio::time::timeout(TIMEOUT, sink.write(bodies)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(fail("no answer in time")),
        };
        lock(&wake.writing).clear();
        drop(wake);
        match &outcome {
            Ok(true) => {
                generation.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("the snapshot store lost its data; every actor writes its snapshot again");
            }
            Ok(false) => {}
            Err(err) if size > 0 => tracing::debug!(error = %err, batch.size = size, "snapshot flush failed"),
            Err(_) => {}
        }
        let answer = outcome.map(|_| ());
        for reply in replies.into_iter().flatten() {
            let _ = reply.send(answer.clone());
        }
    }
}
