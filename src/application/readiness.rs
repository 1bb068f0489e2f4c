//! `readiness`: whether this node can take orders now: the database answers, the journal is not
//! stuck on an unresolved batch, and the outbox relay is running.

use super::Services;
use serde::Serialize;
use std::time::Duration;

/// How long a part may be stuck before the node says it is not ready.
const GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Serialize)]
pub struct Readiness {
    pub database: bool,
    pub journal: bool,
    pub relay: bool,
}

impl Readiness {
    pub fn ready(&self) -> bool {
        self.database && self.journal && self.relay
    }
}

pub async fn readiness(services: &Services) -> Readiness {
    Readiness {
        database: services.storage.ping().await,
        journal: services.probes.journal.is_healthy(GRACE),
        relay: services.probes.relay.is_healthy(GRACE),
    }
}
