//! The background parts and services as the application's health ports, for `/readyz`.

use super::journal::JournalHealth;
use super::outbox_relay::RelayHealth;
use super::redis_pool;
use crate::application::ports::health::{Heartbeat, Ping};
use futures_util::future::BoxFuture;
use std::time::Duration;

impl Heartbeat for JournalHealth {
    fn is_healthy(&self, grace: Duration) -> bool {
        JournalHealth::is_healthy(self, grace)
    }
}

impl Heartbeat for RelayHealth {
    fn is_healthy(&self, grace: Duration) -> bool {
        RelayHealth::is_healthy(self, grace)
    }
}

/// Redis, asked with a `PING` on a pooled connection.
pub struct RedisPing(pub deadpool_redis::Pool);

impl Ping for RedisPing {
    fn ping(&self, within: Duration) -> BoxFuture<'static, bool> {
        let pool = self.0.clone();
        Box::pin(async move { redis_pool::ping(&pool, within).await })
    }
}
