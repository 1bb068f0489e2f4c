//! Redis, when `redis.url` is set: one pool for the node (deadpool-redis). It tells `/readyz`
//! whether Redis answers and carries the relay's appends to the event stream; actor snapshots will
//! use it too. Stream consumers keep connections of their own (their reads block).

use deadpool_redis::{Config, Pool, Runtime};
use std::time::Duration;

/// A pool for the URL; connections are made on first use, so an unreachable Redis does not stop
/// the server from starting (it shows in `/readyz`).
pub fn build(url: &str) -> anyhow::Result<Pool> {
    Ok(Config::from_url(url).create_pool(Some(Runtime::Tokio1))?)
}

/// Whether Redis answers PING within `within`.
pub async fn ping(pool: &Pool, within: Duration) -> bool {
    let probe = async {
        let mut conn = pool.get().await.ok()?;
        deadpool_redis::redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .ok()
    };
    matches!(tokio::time::timeout(within, probe).await, Ok(Some(pong)) if pong == "PONG")
}
