//! The health port: the parts of the node that readiness reports on.

use futures_util::future::BoxFuture;
use std::time::Duration;

/// A background part that beats while it works (the journal, the outbox relay).
pub trait Heartbeat: Send + Sync + 'static {
    /// Whether it has beaten, or been stuck for less than `grace`.
    fn is_healthy(&self, grace: Duration) -> bool;
}

/// A service the node talks to (the database, Redis), asked whether it answers now.
pub trait Ping: Send + Sync + 'static {
    /// `true` only when it answered within `within`.
    fn ping(&self, within: Duration) -> BoxFuture<'static, bool>;
}
