//! PostgreSQL only: the journal's batch of orders in one statement whatever the batch's size,
//! every column bound as one array and the rows made by `unnest`; and its outbox row in the
//! statement that moves its listings' positions.
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

/// How far each listing's journal position moves, column by column.
#[derive(Debug, Default)]
pub struct PositionColumns {
    pub listing_id: Vec<String>,
    pub by: Vec<i64>,
}

/// Takes the advisory lock `lock` for the rest of the transaction, then inserts the outbox row
/// of a transaction's events and returns its sequence number; and moves the listings' journal
/// positions on by `positions` (a data-modifying `WITH`, which runs whether or not it is read).
///
/// The lock is taken in the same round trip, by a `WITH` query joined to the row: the row
/// reaches the insert, and takes its number, only joined to the lock's one row, so no number is
/// taken before the lock is held (`nextval` above the join). The positions' update is joined to
/// it the same way, so listing rows are locked after the outbox's lock, in the order the journal
/// always took them.
pub struct InsertEvents<'a> {
    pub events: &'a str,
    pub created_at: i64,
    pub lock: i64,
    pub positions: &'a PositionColumns,
}

impl QueryId for InsertEvents<'_> {
    type QueryId = InsertEvents<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryFragment<Pg> for InsertEvents<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH turn AS (SELECT pg_advisory_xact_lock(");
        out.push_bind_param::<BigInt, _>(&self.lock)?;
        out.push_sql(
            ")), advanced AS (UPDATE catalog_listings AS l SET journal_position = l.journal_position + p.by \
             FROM turn, unnest(",
        );
        bind_arrays!(out; Text => self.positions.listing_id, BigInt => self.positions.by);
        out.push_sql(
            ") AS p(id, by) WHERE l.id = p.id) \
             INSERT INTO outbox_batches (events, created_at) SELECT ",
        );
        out.push_bind_param::<Text, _>(&self.events)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&self.created_at)?;
        out.push_sql(" FROM turn RETURNING seq");
        Ok(())
    }
}

impl Query for InsertEvents<'_> {
    type SqlType = BigInt;
}

impl RunQueryDsl<PgConnection> for InsertEvents<'_> {}

#[cfg(test)]
mod tests {
    use crate::infrastructure::db::schema::outbox_batches;
    use crate::infrastructure::db::{migrate, statements_sent, DbConnection};
    use crate::infrastructure::repos::orders::tests::order;
    use crate::infrastructure::repos::{leases, orders, outbox};
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

    /// What was sent besides the transaction's own `BEGIN` and `COMMIT`.
    fn statements(sent: &[String]) -> Vec<&String> {
        sent.iter()
            .filter(|sql| !matches!(sql.as_str(), "BEGIN" | "COMMIT"))
            .collect()
    }

    fn inserts(sent: &[String]) -> Vec<&String> {
        sent.iter().filter(|sql| sql.contains("INSERT")).collect()
    }

    #[test]
    fn a_batch_of_any_size_is_one_statement_for_its_orders_and_one_for_its_events_on_postgresql() {
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
            let seq = seqs.expect("appended").expect("a row");
            assert_eq!(inserts(&sent).len(), 1, "{size} events: {sent:#?}");
            assert_eq!(
                sent.iter().filter(|sql| sql.contains("pg_advisory_xact_lock")).count(),
                1,
                "the lock taken by the insert itself: {sent:#?}"
            );
            let DbConnection::Pg(c) = &mut db.conn else {
                unreachable!("a PostgreSQL connection")
            };
            let stored: String = outbox_batches::table
                .find(seq)
                .select(outbox_batches::events)
                .get_result(c)
                .expect("read back");
            let stored: Vec<DomainEvent> = serde_json::from_str(&stored).expect("a JSON array of events");
            let given: Vec<DomainEvent> = events.iter().map(|&e| e.clone()).collect();
            assert_eq!(stored, given, "one row, in the order given");
        }
    }

    #[test]
    fn a_large_outbox_row_is_compressed_with_lz4_where_the_server_has_it() {
        let mut db = Database::new();
        let DbConnection::Pg(c) = &mut db.conn else {
            unreachable!("a PostgreSQL connection")
        };
        let has_lz4 = diesel::sql_query("SET default_toast_compression = lz4")
            .execute(c)
            .is_ok();
        diesel::sql_query("RESET default_toast_compression")
            .execute(c)
            .expect("reset");
        let events: Vec<DomainEvent> = (0..60)
            .map(|_| DomainEvent::new(chrono::Utc::now(), EventPayload::LiveStarted { room_id: new_id() }))
            .collect();
        let events: Vec<&DomainEvent> = events.iter().collect();
        let seq = db
            .conn
            .transaction(|conn| outbox::append(conn, &events))
            .expect("appended")
            .expect("a row");

        #[derive(QueryableByName)]
        struct Compression {
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
            method: Option<String>,
        }
        let DbConnection::Pg(c) = &mut db.conn else {
            unreachable!("a PostgreSQL connection")
        };
        let stored: Compression =
            diesel::sql_query("SELECT pg_column_compression(events) AS method FROM outbox_batches WHERE seq = $1")
                .bind::<diesel::sql_types::BigInt, _>(seq)
                .get_result(c)
                .expect("the row");
        let expected = if has_lz4 { "lz4" } else { "pglz" };
        assert_eq!(
            stored.method.as_deref(),
            Some(expected),
            "a row of 60 events is compressed"
        );
    }

    fn number(conn: &mut DbConnection, sql: &str) -> i64 {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let DbConnection::Pg(c) = conn else {
            unreachable!("a PostgreSQL connection")
        };
        diesel::sql_query(sql).get_result::<N>(c).expect("a number").n
    }

    /// A journal batch's first and last statements on PostgreSQL: its writer row and its rooms'
    /// epochs in one, its events and its listings' positions in another.
    #[test]
    fn a_batch_begins_in_one_statement_and_moves_its_positions_with_its_events_on_postgresql() {
        let mut db = Database::new();
        let (leased, unleased, listing, other) = (new_id(), new_id(), new_id(), new_id());
        let DbConnection::Pg(c) = &mut db.conn else {
            unreachable!("a PostgreSQL connection")
        };
        diesel::connection::SimpleConnection::batch_execute(
            c,
            &format!(
                "INSERT INTO live_rooms (id, merchant_id, title, status, stream_key, created_at) \
                 VALUES ('{leased}', 'm', 'a room', 'live', 'k', 0); \
                 INSERT INTO live_room_leases (room_id, owner, epoch, expires_at) VALUES ('{leased}', 'me', 7, 0); \
                 INSERT INTO orders_journal_writers (writer, last_batch, refused) VALUES ('w', 3, '2:K'); \
                 INSERT INTO catalog_listings (id, room_id, title, price_cents, stock_total, per_user_limit, created_at, journal_position) \
                 VALUES ('{listing}', '{leased}', 'a', 1, 10, 1, 0, 40), ('{other}', '{leased}', 'b', 1, 10, 1, 0, 5);"
            ),
        )
        .expect("a room, its lease, a writer and two listings");

        let rooms = [leased, unleased].into_iter().collect();
        let (epochs, sent) = statements_sent(&mut db.conn, |conn| {
            conn.transaction(|conn| leases::begin_batch(conn, "w", 4, &rooms))
        });
        let epochs = epochs.expect("begun");
        assert_eq!(
            epochs,
            [(leased, 7)].into_iter().collect(),
            "the leased room's epoch, no other"
        );
        assert_eq!(statements(&sent).len(), 1, "{sent:#?}");
        assert_eq!(
            number(
                &mut db.conn,
                "SELECT last_batch AS n FROM orders_journal_writers WHERE writer = 'w'"
            ),
            4
        );
        assert_eq!(
            number(
                &mut db.conn,
                "SELECT count(*) AS n FROM orders_journal_writers WHERE writer = 'w' AND refused = ''"
            ),
            1,
            "nothing refused yet in the new batch"
        );

        let events: Vec<DomainEvent> = (0..3)
            .map(|_| DomainEvent::new(chrono::Utc::now(), EventPayload::LiveStarted { room_id: leased }))
            .collect();
        let events: Vec<&DomainEvent> = events.iter().collect();
        let advance = [(listing, 2), (other, 1)].into_iter().collect();
        let (seqs, sent) = statements_sent(&mut db.conn, |conn| {
            conn.transaction(|conn| outbox::append_advancing(conn, &events, &advance))
        });
        assert!(seqs.expect("appended").is_some(), "a row");
        assert_eq!(statements(&sent).len(), 1, "{sent:#?}");
        let position = |conn: &mut DbConnection, id| {
            number(
                conn,
                &format!("SELECT journal_position AS n FROM catalog_listings WHERE id = '{id}'"),
            )
        };
        assert_eq!(position(&mut db.conn, listing), 42);
        assert_eq!(position(&mut db.conn, other), 6);
    }
}
