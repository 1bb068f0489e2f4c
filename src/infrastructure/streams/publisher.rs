//! The relay's side of the stream: one relay batch becomes one pipelined transaction of XADDs.

use super::{fields, EventStream};
use crate::infrastructure::event_bus::{EventBus, PublishError};
use deadpool_redis::redis::streams::StreamMaxlen;
use deadpool_redis::{redis, Pool};
use futures_util::future::BoxFuture;
use livecart_actors::events::DomainEvent;
use std::sync::Arc;
use std::time::Duration;

/// A batch that has not been answered by then counts as failed and stays unpublished. Far above
/// what a few thousand XADDs take, far below the relay's 10 s readiness grace.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
enum AppendError {
    #[error("no Redis connection: {0}")]
    Connection(#[from] deadpool_redis::PoolError),
    #[error("Redis failed: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("Redis did not answer within {0:?}")]
    TimedOut(Duration),
}

/// Publishes to a Redis stream. `publish` returns only once Redis answered every XADD, so the
/// relay marks rows published only when they are in the stream.
pub struct RedisStreamBus {
    pool: Pool,
    stream: Arc<EventStream>,
}

impl RedisStreamBus {
    pub fn new(pool: Pool, stream: EventStream) -> Self {
        Self {
            pool,
            stream: Arc::new(stream),
        }
    }
}

impl EventBus for RedisStreamBus {
    fn publish(&self, events: Arc<[DomainEvent]>) -> BoxFuture<'static, Result<(), PublishError>> {
        let (pool, stream) = (self.pool.clone(), self.stream.clone());
        Box::pin(async move {
            let sent = tokio::time::timeout(PUBLISH_TIMEOUT, append(&pool, &stream, &events))
                .await
                .unwrap_or(Err(AppendError::TimedOut(PUBLISH_TIMEOUT)));
            match sent {
                Ok(()) => {
                    metrics::counter!("livecart_stream_published_total", "stream" => stream.key.clone())
                        .increment(events.len() as u64);
                    Ok(())
                }
                Err(err) => {
                    metrics::counter!("livecart_stream_publish_failures_total", "stream" => stream.key.clone())
                        .increment(1);
                    // Logged by the relay, which handles it.
                    Err(PublishError::Broker(Box::new(err)))
                }
            }
        })
    }
}

/// Appends the events in order, in one round trip.
///
/// MULTI/EXEC makes the batch all or nothing: a connection lost half-way appends none of it, so
/// the relay's retry does not leave the first half in the stream twice. (A batch whose EXEC
/// succeeded but whose answer was lost is appended again; consumers dedupe by event id.)
///
/// Every XADD trims with `MAXLEN ~`: acknowledged entries are never deleted by Redis, so an
/// unbounded stream would grow with every order ever placed. `~` lets Redis drop whole internal
/// nodes when it is cheap instead of trimming exactly on every append. The bound is large because
/// trimming does not wait for consumer groups: it must stay above any backlog a consumer may fall
/// behind by (`redis.events.max_len`).
async fn append(pool: &Pool, stream: &EventStream, events: &[DomainEvent]) -> Result<(), AppendError> {
    if events.is_empty() {
        return Ok(());
    }
    let mut pipe = redis::pipe();
    pipe.atomic();
    for event in events {
        pipe.xadd_maxlen(
            stream.key.as_str(),
            StreamMaxlen::Approx(stream.max_len),
            "*",
            &fields(event),
        );
    }
    let mut conn = pool.get().await?;
    let _entry_ids: Vec<String> = pipe.query_async(&mut conn).await?;
    Ok(())
}
