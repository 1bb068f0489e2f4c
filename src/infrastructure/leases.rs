//! The Directory's `Leases` port over SQL, on a connection of its own: on PostgreSQL that
//! connection's server session is the node's sign of life (a node whose session is gone has died,
//! and its rooms may be taken at once), so it stays open for the process's life.
//!
//! On SQLite that connection commits without waiting for the disk (`synchronous = NORMAL`).
//! A renewal holds the database's one write turn until it has committed, every few seconds,
//! with every order of the moment waiting behind it, so a sync of its own is time that orders
//! wait for and nothing needs (renewals held the turn 15 to 40 ms, with the checkpoints their
//! commits used to run; see `db::checkpointer`). Nothing is lost by it: the log is written in
//! order and the journal syncs it before it answers a batch, so an entry written under an epoch is
//! never durable without the lease change that gave the epoch; a lease change lost with the
//! machine's power was relied on by nothing durable, and a renewal lost only lets the lease lapse
//! sooner, which fencing makes safe.

use super::db::{Backend, Connector, DbConnection, TurnHolder};
use super::repos::leases;
use futures_util::future::BoxFuture;
use livecart_actors::lease::{Acquired, Fence, LeaseError, Leases};
use livecart_actors::RoomId;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct SqlLeases {
    /// This node: every lease it takes is held in this name.
    owner: String,
    ttl: Duration,
    connector: Connector,
    conn: Arc<Mutex<Option<DbConnection>>>,
}

impl SqlLeases {
    pub fn new(connector: Connector, owner: String, ttl: Duration) -> Self {
        let connector = match connector.backend() {
            Backend::Sqlite => connector.relaxed(),
            Backend::Postgres => connector,
        };
        Self {
            owner,
            ttl,
            connector,
            conn: Arc::new(Mutex::new(None)),
        }
    }

    /// Runs `work` on the lease connection off the async threads, reconnecting once it broke.
    fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut DbConnection, &str, i64) -> diesel::QueryResult<T> + Send + 'static,
    ) -> BoxFuture<'static, Result<T, LeaseError>> {
        let (conn, connector, owner) = (self.conn.clone(), self.connector.clone(), self.owner.clone());
        let ttl_ms = self.ttl.as_millis() as i64;
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut slot = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                if slot.is_none() {
                    *slot = Some(connector.connect().map_err(|e| LeaseError(e.to_string()))?);
                }
                let Some(c) = slot.as_mut() else {
                    return Err(LeaseError("no lease connection".into()));
                };
                // Every lease call writes (take, renew, give back).
                let outcome = {
                    let writers = connector.writers();
                    let _turn = writers.turn(TurnHolder::Leases);
                    work(c, &owner, ttl_ms)
                };
                if outcome.is_err() {
                    // The next call starts on a fresh connection (and a fresh session).
                    *slot = None;
                }
                outcome.map_err(|e| LeaseError(e.to_string()))
            })
            .await
            .map_err(|e| LeaseError(format!("the lease task failed: {e}")))?
        })
    }
}

impl Leases for SqlLeases {
    fn acquire(&self, room_id: RoomId) -> BoxFuture<'static, Result<Acquired, LeaseError>> {
        self.run(move |conn, owner, ttl_ms| leases::acquire(conn, room_id, owner, ttl_ms))
    }

    fn renew(&self, held: Vec<Fence>) -> BoxFuture<'static, Result<Vec<Fence>, LeaseError>> {
        self.run(move |conn, owner, ttl_ms| leases::renew(conn, owner, ttl_ms, &held))
    }

    fn release(&self, held: Vec<Fence>) -> BoxFuture<'static, Result<(), LeaseError>> {
        self.run(move |conn, owner, _| leases::release(conn, owner, &held))
    }
}
