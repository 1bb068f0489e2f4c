//! Storage access, one file per module and its tables. No file reads another module's tables;
//! the application layer composes what it needs from each.

pub mod catalog;
pub mod identity;
pub mod leases;
pub mod live;
pub mod marketing;
pub mod orders;
pub mod outbox;
pub mod payments;
mod ports;

use super::db::DbPool;

/// The SQL store, shared by every use case; cheap to clone.
#[derive(Clone)]
pub struct Storage {
    pub pool: DbPool,
}

impl Storage {
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }

    /// Whether the database answers now (for `/readyz`).
    pub async fn ping(&self) -> bool {
        use diesel::connection::SimpleConnection;
        super::db::with_conn(&self.pool, |conn| Ok(conn.batch_execute("SELECT 1")?))
            .await
            .is_ok()
    }
}
