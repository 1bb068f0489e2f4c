//! `readiness`: whether this node can take orders now: the database answers, the journal is not
//! stuck on an unresolved batch, and the outbox relay is running.

use super::Services;
use serde::Serialize;
use std::time::Duration;

/// How long a part may be stuck before the node says it is not ready.
const GRACE: Duration = Duration::from_secs(10);
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Serialize)]
pub struct Readiness {
    pub database: bool,
    pub journal: bool,
    pub relay: bool,
    /// `None` when Redis is not configured. Reported, but not a reason to take the node out of
    /// rotation: orders and chat go on without Redis (events wait in the SQL outbox).
    pub redis: Option<bool>,
    /// The process is shutting down.
    pub draining: bool,
}

impl Readiness {
    pub fn ready(&self) -> bool {
        self.database && self.journal && self.relay && !self.draining
    }

    /// Ready, but with a part away that the node can do without for a while.
    pub fn degraded(&self) -> bool {
        self.redis == Some(false)
    }
}

pub async fn readiness(services: &Services) -> Readiness {
    Readiness {
        // A database that does not answer within a moment is as good as down for a probe.
        database: services.probes.database.ping(PROBE_TIMEOUT).await,
        journal: services.probes.journal.is_healthy(GRACE),
        relay: services.probes.relay.is_healthy(GRACE),
        redis: match &services.probes.redis {
            Some(redis) => Some(redis.ping(PROBE_TIMEOUT).await),
            None => None,
        },
        draining: services.is_draining(),
    }
}
