//! Storage access, one file per module and its tables. No file reads another module's tables;
//! the application layer composes what it needs from each.

/// Keyset paging of a boxed query, newest first by (`created_at`, `id`): keeps the rows strictly
/// after the window's `after`, orders them and takes its `limit` (all without one). Every paged
/// list reads through this, so a page costs the same however deep it is.
macro_rules! newest_first {
    ($query:expr, $created_at:expr, $id:expr, $window:expr) => {{
        let window: $crate::application::ports::Window = $window;
        let mut query = $query;
        if let Some((at, id)) = window.after {
            let at = $crate::infrastructure::db::time::to_millis(at);
            query = query.filter($created_at.lt(at).or($created_at.eq(at).and($id.lt(id.to_string()))));
        }
        let query = query.order(($created_at.desc(), $id.desc()));
        match window.limit {
            Some(limit) => query.limit(limit),
            None => query,
        }
    }};
}

pub mod buyer_index;
pub mod catalog;
pub mod identity;
pub mod leases;
pub mod live;
pub mod marketing;
pub mod orders;
pub mod outbox;
pub mod payments;
mod ports;
mod unnest_inserts;

use super::db::{Connector, DbPool, Writers};
use buyer_index::Unfiled;
use std::sync::Arc;

/// The SQL store, shared by every use case; cheap to clone.
#[derive(Clone)]
pub struct Storage {
    pub pool: DbPool,
    /// This database's write turns, taken by every write through `with_write_conn`, so on SQLite
    /// the writers queue with the journal instead of sleeping in the busy handler.
    pub writers: Writers,
    /// The orders the journal has not filed in the buyers' index yet (SQLite).
    pub unfiled: Arc<Unfiled>,
}

impl Storage {
    pub fn new(pool: DbPool, connector: &Connector) -> Self {
        Self {
            pool,
            writers: connector.writers(),
            unfiled: connector.unfiled(),
        }
    }

    /// Whether the database answers now (for `/readyz`).
    pub async fn ping(&self) -> bool {
        use diesel::connection::SimpleConnection;
        super::db::with_conn(&self.pool, |conn| Ok(conn.batch_execute("SELECT 1")?))
            .await
            .is_ok()
    }
}
