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

/// How a row is read by its key: `.find(key).get_result(conn)`, never `.first(conn)`.
///
/// `.first()` adds a bound `LIMIT`, and SQLite (3.47 on) reads a bound `LIMIT` while planning,
/// so it plans such a statement again every time it runs: about 120,000 instructions per read,
/// against a statement diesel keeps prepared and SQLite runs as planned (measured with callgrind,
/// `sqlite3Reprepare` under every `.first()`). The request paths of an order (its page, paying,
/// the provider's notice, cancelling) read the order, its payment and its room that way after a
/// sale, once per buyer, and a sell-out asks for each keyed buyer left out whether their order was
/// placed before. A key finds at most one row, so the `LIMIT` said nothing.
mod by_key {
    #[cfg(test)]
    mod tests {
        use crate::infrastructure::db::statements_sent;
        use crate::infrastructure::repos::orders::tests::{database, order};
        use crate::infrastructure::repos::{catalog, live, marketing, orders, payments};
        use livecart_actors::ids::new_id;

        #[test]
        fn reads_by_key_bind_no_limit_and_find_the_row_or_none() {
            let mut conn = database();
            let placed = order(new_id(), None);
            let keyed = order(new_id(), Some("k"));
            let keyed_id = keyed.id;
            orders::insert_new(&mut conn, &[&placed, &keyed]).expect("orders");
            let (found, sent) = statements_sent(&mut conn, |conn| {
                let found = orders::order_by_id(conn, placed.id).expect("read").map(|o| o.id);
                let missing = orders::order_by_id(conn, new_id()).expect("read");
                assert!(missing.is_none(), "an unknown key finds nothing");
                let keyed = orders::order_by_idempotency_key(conn, keyed.user_id, "k").expect("read");
                assert_eq!(keyed.map(|o| o.id), Some(keyed_id));
                payments::payment_by_id(conn, uuid::Uuid::new_v4()).expect("read");
                live::room_by_id(conn, new_id()).expect("read");
                catalog::listing_by_id(conn, new_id()).expect("read");
                marketing::coupon_by_id(conn, uuid::Uuid::new_v4()).expect("read");
                found
            });
            assert_eq!(found, Some(placed.id));
            assert_eq!(sent.len(), 7, "{sent:#?}");
            let limited: Vec<&String> = sent.iter().filter(|sql| sql.contains("LIMIT")).collect();
            assert!(limited.is_empty(), "planned again on every run: {limited:#?}");
        }
    }
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
