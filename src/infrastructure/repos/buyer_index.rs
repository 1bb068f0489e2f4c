//! `orders_buyers` (SQLite): each buyer's keyless orders, filed behind the journal's commits.
//!
//! A per-buyer index written in every commit costs a random leaf per order, since buyers come in
//! any order: it was 71 % of the pages a flash sale's journal commits wrote (docs/BENCHMARKS.md,
//! "The buyers' index is filed behind the commits"). Instead the journal gathers the keyless
//! orders it commits, and once [`SWEEP_AFTER`] have gathered it files them in the index's key
//! order, a stretch in each of the next batches: a buyer's orders of the whole sweep land on one
//! leaf in one write, and no batch carries the whole sweep (filing 4,096 in one batch doubled the
//! closed loop's p99, 8 to 18 ms). Until an order is filed, [`Unfiled`] names it to readers by its
//! buyer, so a buyer sees an order the moment it is acknowledged. SQLite has one process per
//! database (`file_lock`), so the journal of this process committed every order not filed.
//! PostgreSQL keeps its unique `(user_id, idempotency_key)` index: there a commit's cost is its
//! round trips, not its pages.

use crate::in_fixed_chunks;
use crate::infrastructure::db::schema::orders_buyers;
use crate::infrastructure::db::{time, DbConnection};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel::sqlite::SqliteConnection;
use livecart_actors::order::Order;
use livecart_actors::{OrderId, UserId};
use std::collections::HashMap;
use std::sync::Mutex;

/// Keyless orders gathered before a sweep files them. The leaves a sweep writes are at most the
/// index's hot ones (one per buyer it files), so the more it files the fewer pages per order,
/// for the journal's log and again for the checkpointer, which copies each leaf the log holds
/// once per round: at 4,096 a sale of 1,000 buyers rewrote the same thousand leaves about eight
/// times a second, and at 16,384 twice, which gave an HTTP order 10 % less CPU and the sale 13 %
/// more orders a second (docs/BENCHMARKS.md, "A sweep of the buyers' index files four times as
/// many orders"). The sweep's sort (about a millisecond at this size) runs inside a commit, and
/// `Unfiled` holds up to twice this many ids, so it is not made larger still.
pub const SWEEP_AFTER: usize = 16_384;

/// Orders a sweep files per batch beyond as many as the batch added, so it always outruns them.
const STRETCH_EXTRA: usize = 64;

/// A keyless order as the buyers' index keys it. Ids stay ids until the row is written: a UUID
/// sorts as its text does, so the sweep's order is the index's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Filed {
    user_id: UserId,
    created_at: i64,
    order_id: OrderId,
}

/// Without `treat_none_as_default_value = false`, SQLite would get a stretch one row at a time
/// (see `outbox::NewEvent`).
#[derive(Insertable)]
#[diesel(table_name = orders_buyers)]
#[diesel(treat_none_as_default_value = false)]
struct FiledRow {
    user_id: String,
    created_at: i64,
    order_id: String,
}

impl From<&Filed> for FiledRow {
    fn from(f: &Filed) -> Self {
        Self {
            user_id: f.user_id.to_string(),
            created_at: f.created_at,
            order_id: f.order_id.to_string(),
        }
    }
}

/// The keyless orders committed and not yet in `orders_buyers`, by buyer: what a reader of a
/// buyer's orders adds to the index. An order enters before its commit and leaves after the
/// commit that filed it, so at any moment an order acknowledged is here or filed; a reader takes
/// these ids before it opens its read transaction (see `Storage::orders_of_user`).
#[derive(Debug, Default)]
pub struct Unfiled(Mutex<HashMap<UserId, Vec<OrderId>>>);

impl Unfiled {
    /// The ids of the buyer's orders not filed yet.
    pub fn of(&self, user_id: UserId) -> Vec<OrderId> {
        self.lock().get(&user_id).cloned().unwrap_or_default()
    }

    fn add(&self, orders: &[Filed]) {
        let mut by_buyer = self.lock();
        for order in orders {
            by_buyer.entry(order.user_id).or_default().push(order.order_id);
        }
    }

    fn remove(&self, orders: &[Filed]) {
        let mut by_buyer = self.lock();
        for order in orders {
            if let Some(ids) = by_buyer.get_mut(&order.user_id) {
                ids.retain(|id| *id != order.order_id);
                if ids.is_empty() {
                    by_buyer.remove(&order.user_id);
                }
            }
        }
    }

    fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, Vec<OrderId>>> {
        // The map is consistent after every statement that changes it; a panic elsewhere leaves
        // it usable.
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The filing of one journal connection, kept by its writer thread. A failed batch ends that
/// thread and its connection, so this state never outlives a transaction whose outcome is
/// unknown; the next connection starts with [`file_everything`].
pub struct Filing {
    sweep_after: usize,
    stretch_extra: usize,
    /// Keyless orders committed since the sweep in progress began.
    gathered: Vec<Filed>,
    /// What the sweep in progress has yet to file, in descending key order (the next on top).
    sweeping: Vec<Filed>,
    /// The newest order when the sweep in progress began: every keyless order up to it is filed
    /// when the sweep ends.
    target_rowid: i64,
    /// Filed by the batch in flight, to leave `Unfiled` once it has committed.
    filed: Vec<Filed>,
}

impl Default for Filing {
    fn default() -> Self {
        Self::with(SWEEP_AFTER, STRETCH_EXTRA)
    }
}

impl Filing {
    fn with(sweep_after: usize, stretch_extra: usize) -> Self {
        Self {
            sweep_after,
            stretch_extra,
            gathered: Vec::new(),
            sweeping: Vec::new(),
            target_rowid: 0,
            filed: Vec::new(),
        }
    }

    /// Inside the journal's transaction, after the batch's orders went in: gathers its keyless
    /// orders and files the next stretch of a sweep. A no-op on PostgreSQL.
    pub fn step(&mut self, conn: &mut DbConnection, placed: &[&Order], unfiled: &Unfiled) -> QueryResult<()> {
        let DbConnection::Sqlite(c) = conn else {
            return Ok(());
        };
        let before = self.gathered.len();
        self.gathered
            .extend(placed.iter().filter(|o| o.idempotency_key.is_none()).map(|o| Filed {
                user_id: o.user_id,
                created_at: time::to_millis(o.created_at),
                order_id: o.id,
            }));
        let added = self.gathered.len() - before;
        unfiled.add(&self.gathered[before..]);
        if self.sweeping.is_empty() {
            if self.gathered.len() < self.sweep_after {
                return Ok(());
            }
            self.begin_sweep(c)?;
        }
        self.file_stretch(c, added + self.stretch_extra)
    }

    /// After the batch's commit: what it filed is no longer named by `unfiled`.
    pub fn committed(&mut self, unfiled: &Unfiled) {
        unfiled.remove(&self.filed);
        self.filed.clear();
    }

    /// Takes the gathered orders as the next sweep, up to the newest order committed.
    fn begin_sweep(&mut self, c: &mut SqliteConnection) -> QueryResult<()> {
        self.sweeping = std::mem::take(&mut self.gathered);
        self.sweeping.sort_unstable_by(|a, b| b.cmp(a));
        self.target_rowid = newest_rowid(c)?;
        Ok(())
    }

    /// Files at least `at_least` orders of the sweep, and the position once it is done.
    fn file_stretch(&mut self, c: &mut SqliteConnection, at_least: usize) -> QueryResult<()> {
        let at_least = at_least.max(1).min(self.sweeping.len());
        self.filed = self.sweeping.split_off(self.sweeping.len() - at_least);
        let rows: Vec<FiledRow> = self.filed.iter().map(FiledRow::from).collect();
        // OR IGNORE: an order filed twice would be a defect, but not one worth stopping the
        // journal for.
        in_fixed_chunks!(rows.as_slice(), |chunk| diesel::insert_or_ignore_into(
            orders_buyers::table
        )
        .values(chunk)
        .execute(c))?;
        if self.sweeping.is_empty() {
            diesel::sql_query("UPDATE orders_buyers_position SET indexed_rowid = ? WHERE id = 1")
                .bind::<BigInt, _>(self.target_rowid)
                .execute(c)?;
        }
        Ok(())
    }
}

/// Files every keyless order past the position (whatever a sweep had filed of them) and moves
/// the position to the newest order. A journal connection does it before its first batch, in a
/// transaction of its own; then no order is left unfiled and `unfiled` is emptied.
pub fn file_everything(conn: &mut DbConnection, unfiled: &Unfiled) -> QueryResult<usize> {
    let DbConnection::Sqlite(c) = conn else {
        return Ok(0);
    };
    let filed = c.transaction(|c| {
        let filed = diesel::sql_query(
            "INSERT OR IGNORE INTO orders_buyers (user_id, created_at, order_id) \
             SELECT user_id, created_at, id FROM orders_orders \
             WHERE rowid > (SELECT indexed_rowid FROM orders_buyers_position WHERE id = 1) \
             AND idempotency_key IS NULL \
             ORDER BY user_id, created_at, id",
        )
        .execute(c)?;
        let newest = newest_rowid(c)?;
        diesel::sql_query("UPDATE orders_buyers_position SET indexed_rowid = ? WHERE id = 1")
            .bind::<BigInt, _>(newest)
            .execute(c)?;
        QueryResult::Ok(filed)
    })?;
    unfiled.clear();
    Ok(filed)
}

fn newest_rowid(c: &mut SqliteConnection) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Newest {
        #[diesel(sql_type = BigInt)]
        rowid: i64,
    }
    let newest: Newest =
        diesel::sql_query("SELECT COALESCE(MAX(rowid), 0) AS rowid FROM orders_orders").get_result(c)?;
    Ok(newest.rowid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::application::ports::Window;
    use crate::infrastructure::db::statements_sent;
    use crate::infrastructure::repos::orders::tests::{database, order, sqlite};
    use crate::infrastructure::repos::orders::{insert_new, sqlite_orders_of_user};
    use diesel::connection::Connection;
    use livecart_actors::ids::new_id;

    fn keyless(user_id: UserId) -> Order {
        order(user_id, None)
    }

    /// Commits a batch as the journal does: its orders and the filing's step in one
    /// transaction, then the filing told.
    fn commit(conn: &mut DbConnection, filing: &mut Filing, unfiled: &Unfiled, batch: &[&Order]) {
        conn.transaction(|conn| {
            insert_new(conn, batch)?;
            filing.step(conn, batch, unfiled)
        })
        .expect("committed");
        filing.committed(unfiled);
    }

    fn filed(conn: &mut DbConnection) -> i64 {
        orders_buyers::table.count().get_result(sqlite(conn)).expect("counted")
    }

    /// Every buyer's orders, each once: what a reader sees at this point.
    fn each_buyer_sees_all(conn: &mut DbConnection, unfiled: &Unfiled, orders: &[&Order]) {
        for buyer in orders.iter().map(|o| o.user_id.to_string()) {
            let unfiled_ids = unfiled.of(buyer.parse().expect("an id"));
            let rows = sqlite_orders_of_user(sqlite(conn), &buyer, &unfiled_ids, Window::ALL).expect("read");
            let mut seen: Vec<String> = rows.into_iter().map(|row| row.0).collect();
            seen.sort();
            let mut expected: Vec<String> = orders
                .iter()
                .filter(|o| o.user_id.to_string() == buyer)
                .map(|o| o.id.to_string())
                .collect();
            expected.sort();
            assert_eq!(seen, expected, "buyer {buyer}");
        }
    }

    #[test]
    fn a_sweep_files_a_stretch_per_batch_and_readers_see_every_order_throughout() {
        let mut conn = database();
        let unfiled = Unfiled::default();
        let left_by_the_last_process = keyless(new_id());
        insert_new(&mut conn, &[&left_by_the_last_process]).expect("inserted");
        assert_eq!(file_everything(&mut conn, &unfiled).expect("filed"), 1);

        let mut filing = Filing::with(4, 0);
        let (a, b, c) = (new_id(), new_id(), new_id());
        let orders = [keyless(a), keyless(b), keyless(a), keyless(c), keyless(c), keyless(b)];
        let mut all: Vec<&Order> = vec![&left_by_the_last_process];
        commit(&mut conn, &mut filing, &unfiled, &[&orders[0], &orders[1], &orders[2]]);
        all.extend(&orders[..3]);
        assert_eq!(filed(&mut conn), 1, "fewer than a sweep's worth gathered");
        each_buyer_sees_all(&mut conn, &unfiled, &all);

        // The fourth begins a sweep, whose first stretch is one order.
        commit(&mut conn, &mut filing, &unfiled, &[&orders[3]]);
        all.push(&orders[3]);
        assert_eq!(filed(&mut conn), 2);
        each_buyer_sees_all(&mut conn, &unfiled, &all);

        // Orders committed during the sweep wait for the next one; readers see them all the same.
        commit(&mut conn, &mut filing, &unfiled, &[&orders[4], &orders[5]]);
        all.extend(&orders[4..]);
        assert_eq!(filed(&mut conn), 2 + 2, "a stretch as long as the batch");
        each_buyer_sees_all(&mut conn, &unfiled, &all);
        commit(&mut conn, &mut filing, &unfiled, &[]);
        assert!(filing.sweeping.is_empty());
        assert_eq!(filed(&mut conn), 1 + 4, "the sweep's four");
        each_buyer_sees_all(&mut conn, &unfiled, &all);

        // A new connection files whatever is left, and no order is named as unfiled after it.
        assert_eq!(file_everything(&mut conn, &unfiled).expect("filed"), 2);
        assert_eq!(unfiled.of(b), Vec::<OrderId>::new());
        each_buyer_sees_all(&mut conn, &unfiled, &all);
    }

    #[test]
    fn a_stretch_is_filed_in_one_insert_per_chunk_not_one_per_order() {
        let mut conn = database();
        let unfiled = Unfiled::default();
        let mut filing = Filing::with(40, 0);
        let orders: Vec<Order> = (0..40).map(|_| keyless(new_id())).collect();
        let batch: Vec<&Order> = orders.iter().collect();
        // The batch fills a sweep, whose first stretch is the whole batch: 32 + 8 rows.
        let ((), sent) = statements_sent(&mut conn, |conn| commit(conn, &mut filing, &unfiled, &batch));
        let filings: Vec<&String> = sent
            .iter()
            .filter(|sql| sql.starts_with("INSERT") && sql.contains("orders_buyers"))
            .collect();
        assert_eq!(filings.len(), 2, "{filings:#?}");
        assert!(
            !sent.iter().any(|sql| sql.starts_with("SAVEPOINT")),
            "no transaction of its own: {sent:#?}"
        );
        assert_eq!(filed(&mut conn), 40);
        each_buyer_sees_all(&mut conn, &unfiled, &batch);
    }
}
