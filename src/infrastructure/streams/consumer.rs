//! A consumer of the event stream: one consumer group per kind of consumer (coupons today; the
//! room's stock notices can be another), one consumer name per process.
//!
//! The loop reads a batch (XREADGROUP), hands it to the handler, and acknowledges it (XACK) only
//! once the handler succeeded, so a process that dies in between leaves its entries pending. Every
//! `claim_min_idle / 2` it takes over entries pending longer than `claim_min_idle` on any consumer
//! of its group (XAUTOCLAIM) and handles them: nothing read by a dead process is lost. A handler
//! that fails leaves the batch pending; the loop pauses, re-reads its own pending entries and tries
//! again. When Redis is away the loop counts the failure, drops its connection, backs off and
//! reconnects; it never panics, and it is restarted if it ever does.

use super::{decode, EventStream};
use crate::infrastructure::backoff::Backoff;
use deadpool_redis::redis::streams::{
    StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamReadOptions, StreamReadReply,
};
use deadpool_redis::redis::{self, aio::MultiplexedConnection, AsyncConnectionConfig, AsyncTypedCommands};
use livecart_actors::events::{EventHandler, HandlerError};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(5);
/// Headroom over a blocking read's own wait before its connection counts as dead.
const RESPONSE_SLACK: Duration = Duration::from_secs(2);

/// One kind of consumer: its group on the stream and the handler its batches go to.
pub struct Consumer {
    /// Shared by this consumer's instances on every node, so that each entry is handled by one
    /// of them; another group (another kind of consumer) gets every entry again.
    pub group: String,
    pub handler: Arc<dyn EventHandler>,
}

#[derive(Debug, thiserror::Error)]
enum ConsumeError {
    #[error("cannot connect to Redis or create the group: {0}")]
    Connect(redis::RedisError),
    #[error("reading the stream failed: {0}")]
    Read(redis::RedisError),
    #[error("claiming abandoned entries failed: {0}")]
    Claim(redis::RedisError),
    #[error("the handler failed; the batch stays pending: {0}")]
    Handle(HandlerError),
    #[error("acknowledging a handled batch failed (it will be handled again): {0}")]
    Ack(redis::RedisError),
}

impl ConsumeError {
    /// The `stage` label of the failure counter.
    fn stage(&self) -> &'static str {
        match self {
            ConsumeError::Connect(_) => "connect",
            ConsumeError::Read(_) => "read",
            ConsumeError::Claim(_) => "claim",
            ConsumeError::Handle(_) => "handle",
            ConsumeError::Ack(_) => "ack",
        }
    }
}

/// Runs `consumer` as `name` in its group, and runs it again if it ever panics.
pub fn spawn(client: redis::Client, stream: EventStream, name: String, consumer: Consumer) {
    let reader = Arc::new(Reader {
        client,
        stream,
        name,
        group: consumer.group,
        handler: consumer.handler,
    });
    tracing::info!(stream.key = %reader.stream.key, stream.group = %reader.group, stream.consumer = %reader.name, "consuming events from Redis");
    tokio::spawn(async move {
        loop {
            match tokio::spawn(reader.clone().run()).await {
                Err(err) if err.is_panic() => {
                    tracing::error!(error = %err, stream.group = %reader.group, "a stream consumer panicked; restarting it");
                    reader.failed("panic");
                    tokio::time::sleep(FIRST_RETRY).await;
                }
                // Cancelled: the runtime is shutting down.
                _ => return,
            }
        }
    });
}

struct Reader {
    client: redis::Client,
    stream: EventStream,
    name: String,
    group: String,
    handler: Arc<dyn EventHandler>,
}

/// What the loop carries from one step to the next.
struct State {
    conn: Option<MultiplexedConnection>,
    /// This consumer may have entries it read but did not acknowledge (at start, after a failure,
    /// after a claim): they are read again from id `0` before anything new.
    backlog: bool,
    next_claim: Instant,
}

impl Reader {
    async fn run(self: Arc<Self>) {
        let mut backoff = Backoff::new(FIRST_RETRY, MAX_RETRY);
        let mut state = State {
            conn: None,
            backlog: true,
            next_claim: Instant::now(),
        };
        loop {
            match self.step(&mut state).await {
                Ok(()) => {
                    let failures = backoff.succeed();
                    if failures > 0 {
                        tracing::info!(stream.group = %self.group, stream.failures = failures, "stream consumer running again");
                    }
                }
                Err(err) => {
                    self.failed(err.stage());
                    if !matches!(err, ConsumeError::Handle(_)) {
                        state.conn = None;
                    }
                    state.backlog = true;
                    let pause = backoff.fail();
                    tracing::warn!(error = %err, stream.group = %self.group, stream.consumer = %self.name, stream.retry_in_ms = pause.as_millis() as u64, "stream consumer will retry");
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }

    /// One round: connect if needed, claim abandoned entries when due, then handle one batch of
    /// this consumer's own pending entries, or else wait for new ones.
    async fn step(&self, state: &mut State) -> Result<(), ConsumeError> {
        let conn = match &mut state.conn {
            Some(conn) => conn,
            slot => slot.insert(self.connect().await.map_err(ConsumeError::Connect)?),
        };
        if Instant::now() >= state.next_claim {
            state.next_claim = Instant::now() + (self.stream.claim_min_idle / 2).max(Duration::from_millis(50));
            if self.claim(conn).await? > 0 {
                state.backlog = true;
            }
        }
        if state.backlog {
            let handled = self.read(conn, "0", None).await?;
            state.backlog = handled > 0;
        } else {
            self.read(conn, ">", Some(self.stream.read_block)).await?;
        }
        Ok(())
    }

    /// A connection of its own: a blocking read holds its connection for `read_block`, which
    /// would stall every other command multiplexed on a pooled one. Creates the group if it is
    /// missing (first start, or a Redis that lost its data), reading from the stream's start so
    /// that events published before any consumer ran are not skipped.
    async fn connect(&self) -> Result<MultiplexedConnection, redis::RedisError> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(RESPONSE_SLACK))
            .set_response_timeout(Some(self.stream.read_block + RESPONSE_SLACK));
        let mut conn = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        match conn.xgroup_create_mkstream(&self.stream.key, &self.group, "0").await {
            Err(err) if err.code() != Some("BUSYGROUP") => return Err(err),
            _ => {}
        }
        Ok(conn)
    }

    /// Takes over and handles entries idle past `claim_min_idle` on any consumer of the group;
    /// returns how many it took.
    async fn claim(&self, conn: &mut MultiplexedConnection) -> Result<usize, ConsumeError> {
        let min_idle = self.stream.claim_min_idle.as_millis() as usize;
        let mut cursor = "0-0".to_owned();
        let mut taken = 0;
        loop {
            let options = StreamAutoClaimOptions::default().count(self.stream.read_batch);
            let reply: StreamAutoClaimReply = conn
                .xautoclaim_options(&self.stream.key, &self.group, &self.name, min_idle, &cursor, options)
                .await
                .map_err(ConsumeError::Claim)?;
            if !reply.deleted_ids.is_empty() {
                // Redis drops these from the pending list itself; their events are gone.
                self.lost(reply.deleted_ids.len());
            }
            if !reply.claimed.is_empty() {
                taken += reply.claimed.len();
                metrics::counter!("livecart_stream_entries_claimed_total", "stream" => self.stream.key.clone(), "group" => self.group.clone())
                    .increment(reply.claimed.len() as u64);
                tracing::info!(stream.group = %self.group, stream.claimed = reply.claimed.len(), "took over entries another consumer left unacknowledged");
                self.handle(conn, &reply.claimed).await?;
            }
            if reply.next_stream_id == "0-0" || reply.next_stream_id == cursor {
                return Ok(taken);
            }
            cursor = reply.next_stream_id;
        }
    }

    /// Reads a batch from `from` (`0`: this consumer's pending entries; `>`: new ones, waiting up
    /// to `block`) and handles it; returns how many entries it read.
    async fn read(
        &self,
        conn: &mut MultiplexedConnection,
        from: &str,
        block: Option<Duration>,
    ) -> Result<usize, ConsumeError> {
        let mut options = StreamReadOptions::default()
            .group(&self.group, &self.name)
            .count(self.stream.read_batch);
        if let Some(block) = block {
            options = options.block(block.as_millis() as usize);
        }
        let reply: Option<StreamReadReply> = conn
            .xread_options(&[&self.stream.key], &[from], &options)
            .await
            .map_err(ConsumeError::Read)?;
        let entries: Vec<StreamId> = reply
            .map(|r| r.keys.into_iter().flat_map(|k| k.ids).collect())
            .unwrap_or_default();
        if !entries.is_empty() {
            self.handle(conn, &entries).await?;
        }
        Ok(entries.len())
    }

    /// Hands the batch's events to the handler, then acknowledges every entry of it.
    async fn handle(&self, conn: &mut MultiplexedConnection, entries: &[StreamId]) -> Result<(), ConsumeError> {
        let decoded = decode(entries);
        if !decoded.undecodable.is_empty() {
            tracing::error!(stream.group = %self.group, stream.entries = ?decoded.undecodable, "stream entries hold no readable event; acknowledged without handling");
            metrics::counter!("livecart_stream_entries_undecodable_total", "stream" => self.stream.key.clone(), "group" => self.group.clone())
                .increment(decoded.undecodable.len() as u64);
        }
        if !decoded.trimmed.is_empty() {
            self.lost(decoded.trimmed.len());
        }
        if !decoded.events.is_empty() {
            let count = decoded.events.len();
            self.handler
                .handle(decoded.events.into())
                .await
                .map_err(ConsumeError::Handle)?;
            metrics::counter!("livecart_stream_entries_handled_total", "stream" => self.stream.key.clone(), "group" => self.group.clone())
                .increment(count as u64);
        }
        conn.xack(&self.stream.key, &self.group, &decoded.entry_ids)
            .await
            .map_err(ConsumeError::Ack)?;
        Ok(())
    }

    fn lost(&self, count: usize) {
        tracing::error!(stream.group = %self.group, stream.lost = count, "pending entries were trimmed from the stream before they were handled; raise redis.events.max_len");
        metrics::counter!("livecart_stream_entries_lost_total", "stream" => self.stream.key.clone(), "group" => self.group.clone())
            .increment(count as u64);
    }

    fn failed(&self, stage: &'static str) {
        metrics::counter!("livecart_stream_consumer_failures_total", "stream" => self.stream.key.clone(), "group" => self.group.clone(), "stage" => stage)
            .increment(1);
    }
}
