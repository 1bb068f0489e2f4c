//! PostgreSQL only: the journal's batch of orders, and of outbox events, each in one statement
//! whatever the batch's size, every column bound as one array and the rows made by `unnest`.
//!
//! On PostgreSQL a journal commit is bounded by its round trips, not its pages: at 64 buyers a
//! batch holds about 30 orders and commits in about 2.7 ms, where a bare commit takes 0.3 to 1.
//! Inserted as multi-row `VALUES` in the fixed chunks of `in_fixed_chunks!` (32, 16, 8, 4, 2, 1
//! rows, so that each statement is prepared once), a batch of 31 took five round trips for its
//! orders and five more for its events. A statement over arrays has one SQL text for every batch
//! size, so it is prepared once and costs one round trip.

use diesel::pg::{Pg, PgConnection};
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text};
use diesel::{QueryResult, RunQueryDsl};

/// Binds each column as one array, separated by commas: the arguments of `unnest(…)`.
macro_rules! bind_arrays {
    ($out:ident; $first_ty:ty => $first:expr $(, $ty:ty => $column:expr)* $(,)?) => {{
        $out.push_bind_param::<Array<$first_ty>, _>(&$first)?;
        $(
            $out.push_sql(", ");
            $out.push_bind_param::<Array<$ty>, _>(&$column)?;
        )*
    }};
}

/// A batch's orders, column by column, in the order given.
#[derive(Debug, Default)]
pub struct OrderColumns {
    pub id: Vec<String>,
    pub room_id: Vec<String>,
    pub listing_id: Vec<String>,
    pub user_id: Vec<String>,
    pub quantity: Vec<i32>,
    pub unit_price_cents: Vec<i64>,
    pub total_cents: Vec<i64>,
    pub status: Vec<&'static str>,
    pub idempotency_key: Vec<Option<String>>,
    pub expires_at: Vec<i64>,
    pub created_at: Vec<i64>,
    pub updated_at: Vec<i64>,
}

/// Inserts the orders, skipping any whose key the buyer already used (or whose id exists).
/// `RETURNING = true` loads the ids that went in, which only a batch with a key needs.
pub struct InsertOrders<'a, const RETURNING: bool>(pub &'a OrderColumns);

impl<const RETURNING: bool> QueryId for InsertOrders<'_, RETURNING> {
    type QueryId = InsertOrders<'static, RETURNING>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<const RETURNING: bool> QueryFragment<Pg> for InsertOrders<'_, RETURNING> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let c = self.0;
        out.push_sql(
            "INSERT INTO orders_orders (id, room_id, listing_id, user_id, quantity, unit_price_cents, \
             total_cents, status, idempotency_key, expires_at, created_at, updated_at) \
             SELECT * FROM unnest(",
        );
        bind_arrays!(out;
            Text => c.id,
            Text => c.room_id,
            Text => c.listing_id,
            Text => c.user_id,
            Integer => c.quantity,
            BigInt => c.unit_price_cents,
            BigInt => c.total_cents,
            Text => c.status,
            Nullable<Text> => c.idempotency_key,
            BigInt => c.expires_at,
            BigInt => c.created_at,
            BigInt => c.updated_at,
        );
        out.push_sql(") ON CONFLICT DO NOTHING");
        if RETURNING {
            out.push_sql(" RETURNING id");
        }
        Ok(())
    }
}

impl Query for InsertOrders<'_, true> {
    type SqlType = Text;
}

impl<const RETURNING: bool> RunQueryDsl<PgConnection> for InsertOrders<'_, RETURNING> {}

/// A batch's outbox events, column by column, in commit order.
#[derive(Debug, Default)]
pub struct EventColumns {
    pub id: Vec<String>,
    pub kind: Vec<&'static str>,
    pub payload: Vec<String>,
    pub created_at: Vec<i64>,
}

/// Takes the advisory lock `lock` for the rest of the transaction, then inserts the events in
/// the order given (`WITH ORDINALITY … ORDER BY`: each takes the next sequence number in that
/// order) and returns their sequence numbers (in no promised order).
///
/// The lock is taken in the same round trip, by a `WITH` query joined to the rows: a row reaches
/// the insert, and takes its number, only joined to the lock's one row, so no number is taken
/// before the lock is held (the plan: a nested loop over the rows, the lock's scan run at the
/// first of them, and `nextval` above the join).
pub struct InsertEvents<'a> {
    pub columns: &'a EventColumns,
    pub lock: i64,
}

impl QueryId for InsertEvents<'_> {
    type QueryId = InsertEvents<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryFragment<Pg> for InsertEvents<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let c = self.columns;
        out.push_sql("WITH turn AS (SELECT pg_advisory_xact_lock(");
        out.push_bind_param::<BigInt, _>(&self.lock)?;
        out.push_sql(
            ")) INSERT INTO outbox_events (id, kind, payload, created_at) \
             SELECT e.id, e.kind, e.payload, e.created_at FROM turn, unnest(",
        );
        bind_arrays!(out; Text => c.id, Text => c.kind, Text => c.payload, BigInt => c.created_at);
        out.push_sql(") WITH ORDINALITY AS e(id, kind, payload, created_at, n) ORDER BY e.n RETURNING seq");
        Ok(())
    }
}

impl Query for InsertEvents<'_> {
    type SqlType = BigInt;
}

impl RunQueryDsl<PgConnection> for InsertEvents<'_> {}

#[cfg(test)]
mod tests {
    use crate::infrastructure::db::schema::outbox_events;
    use crate::infrastructure::db::{migrate, statements_sent, DbConnection};
    use crate::infrastructure::repos::orders::tests::order;
    use crate::infrastructure::repos::{orders, outbox};
    use diesel::prelude::*;
    use diesel::PgConnection;
    use livecart_actors::events::{DomainEvent, EventPayload};
    use livecart_actors::ids::new_id;
    use livecart_actors::order::Order;

    /// A fresh, migrated PostgreSQL database on the server the API suite uses
    /// (`LIVECART_TEST_POSTGRES`), dropped with this value.
    struct Database {
        admin: String,
        name: String,
        conn: DbConnection,
    }

    impl Database {
        fn new() -> Self {
            let admin = std::env::var("LIVECART_TEST_POSTGRES")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
            let name = format!("livecart_unit_{}", new_id().simple());
            let mut server = PgConnection::establish(&admin).expect("the test PostgreSQL server");
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut server)
                .expect("a database");
            let (base, _) = admin.rsplit_once('/').expect("a URL with a database");
            let conn = PgConnection::establish(&format!("{base}/{name}")).expect("the new database");
            let mut conn = DbConnection::Pg(conn);
            migrate::run_pending(&mut conn).expect("migrated");
            Self { admin, name, conn }
        }
    }

    impl Drop for Database {
        fn drop(&mut self) {
            if let Ok(mut server) = PgConnection::establish(&self.admin) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
                    .execute(&mut server);
            }
        }
    }

    fn inserts(sent: &[String]) -> Vec<&String> {
        sent.iter().filter(|sql| sql.contains("INSERT")).collect()
    }

    #[test]
    fn a_batch_of_any_size_is_one_statement_per_table_on_postgresql() {
        let mut db = Database::new();
        let buyer = new_id();
        let first = order(buyer, Some("k1"));
        for size in [1, 30, 51] {
            let mut batch: Vec<Order> = (0..size).map(|_| order(new_id(), None)).collect();
            // One keyed order in each batch, and from the second on a resent key.
            batch.push(order(buyer, Some("k1")));
            let refs: Vec<&Order> = if size == 1 {
                vec![&first]
            } else {
                batch.iter().collect()
            };
            let (refused, sent) = statements_sent(&mut db.conn, |conn| orders::insert_new(conn, &refs));
            let refused = refused.expect("inserted");
            assert_eq!(inserts(&sent).len(), 1, "{size} orders: {sent:#?}");
            if size == 1 {
                assert!(refused.is_empty());
            } else {
                assert_eq!(refused.len(), 1, "the resent key, and only it");
                assert!(refused.contains(&batch[size].id));
            }

            let events: Vec<DomainEvent> = (0..size)
                .map(|_| DomainEvent::new(chrono::Utc::now(), EventPayload::LiveStarted { room_id: new_id() }))
                .collect();
            let events: Vec<&DomainEvent> = events.iter().collect();
            let (seqs, sent) = statements_sent(&mut db.conn, |conn| {
                conn.transaction(|conn| outbox::append(conn, &events))
            });
            let seqs = seqs.expect("appended");
            assert_eq!(inserts(&sent).len(), 1, "{size} events: {sent:#?}");
            assert_eq!(
                sent.iter().filter(|sql| sql.contains("pg_advisory_xact_lock")).count(),
                1,
                "the lock taken by the insert itself: {sent:#?}"
            );
            assert_eq!(seqs.len(), size);
            let DbConnection::Pg(c) = &mut db.conn else {
                unreachable!("a PostgreSQL connection")
            };
            let stored: Vec<String> = outbox_events::table
                .filter(outbox_events::seq.eq_any(&seqs))
                .order(outbox_events::seq.asc())
                .select(outbox_events::id)
                .load(c)
                .expect("read back");
            let given: Vec<String> = events.iter().map(|e| e.id.to_string()).collect();
            assert_eq!(stored, given, "numbered in the order given");
        }
    }
}
