//! `orders_orders`: every order, as the journal commits it.

use super::unnest_inserts::{InsertOrders, OrderColumns};
use super::Storage;
use crate::application::ports::Window;
use crate::infrastructure::db::schema::orders_buyers::dsl as buyers;
use crate::infrastructure::db::schema::orders_orders::dsl as orders;
use crate::infrastructure::db::{parse_id, time, with_conn, DbConnection, StorageError, StorageResult};
use crate::{in_fixed_chunks, per_backend};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::Error;
use diesel::sqlite::SqliteConnection;
use livecart_actors::inventory::{StoredHoldings, StoredOrder};
use livecart_actors::order::{Order, OrderStatus};
use livecart_actors::{ListingId, OrderId, RoomId, UserId};
use std::collections::{HashMap, HashSet};

#[derive(Insertable)]
#[diesel(table_name = crate::infrastructure::db::schema::orders_orders)]
#[diesel(treat_none_as_default_value = false)]
struct NewOrder {
    id: String,
    room_id: String,
    listing_id: String,
    user_id: String,
    quantity: i32,
    unit_price_cents: i64,
    total_cents: i64,
    status: &'static str,
    idempotency_key: Option<String>,
    expires_at: i64,
    created_at: i64,
    updated_at: i64,
}

impl From<&Order> for NewOrder {
    fn from(o: &Order) -> Self {
        Self {
            id: o.id.to_string(),
            room_id: o.room_id.to_string(),
            listing_id: o.listing_id.to_string(),
            user_id: o.user_id.to_string(),
            // Bounded by MAX_ORDER_QUANTITY.
            quantity: o.quantity as i32,
            unit_price_cents: o.unit_price_cents,
            total_cents: o.total_cents,
            status: o.status.as_str(),
            idempotency_key: o.idempotency_key.clone(),
            expires_at: time::to_millis(o.expires_at),
            created_at: time::to_millis(o.created_at),
            updated_at: time::to_millis(o.created_at),
        }
    }
}

type Row = (
    String,
    String,
    String,
    String,
    i32,
    i64,
    i64,
    String,
    Option<String>,
    i64,
    i64,
);

macro_rules! order_columns {
    () => {
        (
            orders::id,
            orders::room_id,
            orders::listing_id,
            orders::user_id,
            orders::quantity,
            orders::unit_price_cents,
            orders::total_cents,
            orders::status,
            orders::idempotency_key,
            orders::expires_at,
            orders::created_at,
        )
    };
}

fn from_row(row: Row) -> StorageResult<Order> {
    let (
        id,
        room_id,
        listing_id,
        user_id,
        quantity,
        unit_price_cents,
        total_cents,
        status,
        key,
        expires_at,
        created_at,
    ) = row;
    Ok(Order {
        quantity: u32::try_from(quantity).map_err(|_| StorageError::Corrupt(format!("order {id}: bad quantity")))?,
        status: OrderStatus::parse(&status).ok_or_else(|| StorageError::Corrupt(format!("order {id}: bad status")))?,
        id: parse_id(&id)?,
        room_id: parse_id(&room_id)?,
        listing_id: parse_id(&listing_id)?,
        user_id: parse_id(&user_id)?,
        unit_price_cents,
        total_cents,
        idempotency_key: key,
        expires_at: time::from_millis(expires_at),
        created_at: time::from_millis(created_at),
    })
}

/// Inserts new orders inside the journal's transaction, in multi-row statements, and returns
/// the orders that did not go in because their buyer had already used their idempotency key.
///
/// Only a row with a key can be refused (the key's unique index; ids are fresh), so only a chunk
/// (on PostgreSQL, the one statement) holding one asks for the ids that went in (`RETURNING`); a
/// chunk without keys must insert every row, and one that does not fails the batch rather than
/// be acknowledged.
///
/// On SQLite it is `INSERT OR IGNORE` rather than `ON CONFLICT DO NOTHING`: the latter still
/// aborts on the NOT NULL columns, so SQLite keeps a statement journal for the multi-row insert,
/// a copy of every page it touches (7 % of a flash sale's server CPU in the profile of
/// docs/BENCHMARKS.md, "Less per order"). Every NOT NULL column comes from a value that cannot
/// be null, so the only rows OR IGNORE skips are the key conflicts `ON CONFLICT` skipped.
pub fn insert_new(conn: &mut DbConnection, batch: &[&Order]) -> QueryResult<HashSet<OrderId>> {
    if batch.is_empty() {
        return Ok(HashSet::new());
    }
    let refused: Vec<Vec<String>> = match conn {
        DbConnection::Sqlite(c) => {
            let rows: Vec<NewOrder> = batch.iter().map(|o| NewOrder::from(*o)).collect();
            in_fixed_chunks!(rows.as_slice(), |chunk| {
                let insert = diesel::insert_or_ignore_into(orders::orders_orders).values(chunk);
                if chunk.iter().any(|row| row.idempotency_key.is_some()) {
                    insert
                        .returning(orders::id)
                        .get_results::<String>(c)
                        .and_then(|inserted| {
                            let rows = chunk.iter().map(|row| (&row.id, &row.idempotency_key));
                            refused_rows(rows, &inserted)
                        })
                } else {
                    insert.execute(c).and_then(|n| all_inserted(chunk.len(), n))
                }
            })
        }
        // One statement over arrays (see `unnest_inserts`).
        DbConnection::Pg(c) => {
            let columns = order_columns(batch);
            if columns.idempotency_key.iter().any(Option::is_some) {
                InsertOrders::<true>(&columns)
                    .get_results::<String>(c)
                    .and_then(|inserted| {
                        let rows = columns.id.iter().zip(&columns.idempotency_key);
                        refused_rows(rows, &inserted)
                    })
            } else {
                InsertOrders::<false>(&columns)
                    .execute(c)
                    .and_then(|n| all_inserted(batch.len(), n))
            }
            .map(|refused| vec![refused])
        }
    }?;
    refused
        .iter()
        .flatten()
        .map(|id| parse_id(id).map_err(|e| Error::QueryBuilderError(e.into())))
        .collect()
}

/// The orders as the array statement binds them, column by column.
fn order_columns(batch: &[&Order]) -> OrderColumns {
    let mut c = OrderColumns::default();
    for o in batch {
        let row = NewOrder::from(*o);
        c.id.push(row.id);
        c.room_id.push(row.room_id);
        c.listing_id.push(row.listing_id);
        c.user_id.push(row.user_id);
        c.quantity.push(row.quantity);
        c.unit_price_cents.push(row.unit_price_cents);
        c.total_cents.push(row.total_cents);
        c.status.push(row.status);
        c.idempotency_key.push(row.idempotency_key);
        c.expires_at.push(row.expires_at);
        c.created_at.push(row.created_at);
        c.updated_at.push(row.updated_at);
    }
    c
}

/// The ids of a chunk's rows that `inserted` (what `RETURNING` gave) lacks; each must have had
/// an idempotency key, the one thing that can refuse a row.
fn refused_rows<'r>(
    rows: impl ExactSizeIterator<Item = (&'r String, &'r Option<String>)>,
    inserted: &[String],
) -> QueryResult<Vec<String>> {
    if inserted.len() == rows.len() {
        return Ok(Vec::new());
    }
    let inserted: HashSet<&str> = inserted.iter().map(String::as_str).collect();
    let mut refused = Vec::new();
    for (id, key) in rows.filter(|(id, _)| !inserted.contains(id.as_str())) {
        if key.is_none() {
            return Err(not_inserted(id));
        }
        refused.push(id.clone());
    }
    Ok(refused)
}

/// A chunk without idempotency keys: every row must have gone in.
fn all_inserted(rows: usize, inserted: usize) -> QueryResult<Vec<String>> {
    if inserted == rows {
        Ok(Vec::new())
    } else {
        Err(not_inserted(&format!("{} of {rows}", rows - inserted)))
    }
}

fn not_inserted(what: &str) -> Error {
    Error::QueryBuilderError(format!("orders without an idempotency key were not inserted: {what}").into())
}

/// A buyer's orders on SQLite, from three places: those with a key through the key index's
/// prefix, the keyless ones filed in `orders_buyers`, and `unfiled`, the ids of those not filed
/// yet (see `buyer_index`, and `Storage::orders_of_user` for when they must be taken). Each is
/// read in the window, and the three merged; an order filed after its id was taken is found
/// twice and kept once.
pub(super) fn sqlite_orders_of_user(
    c: &mut SqliteConnection,
    user_id: &str,
    unfiled: &[OrderId],
    window: Window,
) -> QueryResult<Vec<Row>> {
    let keyed = orders::orders_orders
        .filter(orders::user_id.eq(user_id).and(orders::idempotency_key.is_not_null()))
        .into_boxed();
    let mut rows: Vec<Row> = newest_first!(keyed, orders::created_at, orders::id, window)
        .select(order_columns!())
        .load(c)?;
    let filed = buyers::orders_buyers
        .inner_join(orders::orders_orders)
        .filter(buyers::user_id.eq(user_id))
        .into_boxed();
    rows.extend(
        newest_first!(filed, buyers::created_at, buyers::order_id, window)
            .select(order_columns!())
            .load::<Row>(c)?,
    );
    if !unfiled.is_empty() {
        let ids: Vec<String> = unfiled.iter().map(ToString::to_string).collect();
        let unfiled = orders::orders_orders.filter(orders::id.eq_any(ids)).into_boxed();
        rows.extend(
            newest_first!(unfiled, orders::created_at, orders::id, window)
                .select(order_columns!())
                .load::<Row>(c)?,
        );
    }
    // Newest first by (created_at, id), as each part was read.
    rows.sort_unstable_by(|a, b| (b.10, &b.0).cmp(&(a.10, &a.0)));
    rows.dedup_by(|a, b| a.0 == b.0);
    if let Some(limit) = window.limit {
        rows.truncate(usize::try_from(limit).unwrap_or(0));
    }
    Ok(rows)
}

/// Moves an order from one of `from` to `to` inside the journal's transaction (the actor
/// decided it; the condition keeps a replay from moving it twice). One statement per two
/// statuses of `from` (every move the journal makes has one or two).
pub fn mark_status(
    conn: &mut DbConnection,
    id: OrderId,
    from: &[OrderStatus],
    to: OrderStatus,
    at: DateTime<Utc>,
) -> QueryResult<usize> {
    let id = id.to_string();
    let mut moved = 0;
    for pair in from.chunks(2) {
        let [first, rest @ ..] = pair else { continue };
        moved += SetStatus {
            to: to.as_str(),
            at: time::to_millis(at),
            id: id.clone(),
            from: first.as_str(),
            or_from: rest.first().unwrap_or(first).as_str(),
        }
        .execute(conn)?;
    }
    Ok(moved)
}

crate::fixed_sql! {
    /// Every cancel, expiry, payment and refund the journal writes: see `db::fixed_sql`. A
    /// mass expiry after a sale is a million of them.
    struct SetStatus {
        to: &'static str as Text,
        at: i64 as BigInt,
        id: String as Text,
        from: &'static str as Text,
        or_from: &'static str as Text,
    }
    sql = [
        "UPDATE orders_orders SET status = ", ", updated_at = ", " WHERE id = ",
        " AND status IN (", ", ", ")",
    ];
}

impl Storage {
    pub async fn find_order(&self, id: OrderId) -> StorageResult<Option<Order>> {
        with_conn(&self.pool, move |conn| order_by_id(conn, id)).await
    }

    /// The buyer's orders in the window, newest first. PostgreSQL finds them through the prefix
    /// of the `(user_id, idempotency_key)` index; SQLite as [`sqlite_orders_of_user`] says.
    pub async fn orders_of_user(&self, user_id: UserId, window: Window) -> StorageResult<Vec<Order>> {
        // Before the read transaction opens: an order leaves `unfiled` only once the commit that
        // filed it is done, so the snapshot taken after sees it in one place or the other.
        let unfiled = self.unfiled.of(user_id);
        let user_id = user_id.to_string();
        with_conn(&self.pool, move |conn| {
            let rows: Vec<Row> = match &mut **conn {
                DbConnection::Sqlite(c) => c.transaction(|c| sqlite_orders_of_user(c, &user_id, &unfiled, window))?,
                DbConnection::Pg(c) => {
                    let query = orders::orders_orders.filter(orders::user_id.eq(&user_id)).into_boxed();
                    newest_first!(query, orders::created_at, orders::id, window)
                        .select(order_columns!())
                        .load(c)?
                }
            };
            rows.into_iter().map(from_row).collect()
        })
        .await
    }

    pub async fn orders_of_listing(&self, listing_id: ListingId) -> StorageResult<Vec<Order>> {
        with_conn(&self.pool, move |conn| {
            let rows: Vec<Row> = orders::orders_orders
                .filter(orders::listing_id.eq(listing_id.to_string()))
                .select(order_columns!())
                .load(conn)?;
            rows.into_iter().map(from_row).collect()
        })
        .await
    }

    /// What the InventoryActors of these listings need to start: per listing, the units of final
    /// (paid) orders summed per buyer, and each order still reserved. Two queries for a whole
    /// room, whatever its history: no order that is cancelled or expired is read at all.
    pub async fn holdings_of_listings(
        &self,
        listing_ids: Vec<ListingId>,
    ) -> StorageResult<HashMap<ListingId, StoredHoldings>> {
        with_conn(&self.pool, move |conn| {
            let ids: Vec<String> = listing_ids.iter().map(|id| id.to_string()).collect();
            let settled: Vec<(String, String, Option<i64>)> = per_backend!(&mut **conn, c => orders::orders_orders
                .filter(orders::listing_id.eq_any(&ids).and(orders::status.eq(OrderStatus::Paid.as_str())))
                .group_by((orders::listing_id, orders::user_id))
                .select((orders::listing_id, orders::user_id, diesel::dsl::sum(orders::quantity)))
                .load(c))?;
            let reserved: Vec<(String, String, String, i32, i64)> = orders::orders_orders
                .filter(
                    orders::listing_id
                        .eq_any(&ids)
                        .and(orders::status.eq(OrderStatus::Reserved.as_str())),
                )
                .select((
                    orders::id,
                    orders::listing_id,
                    orders::user_id,
                    orders::quantity,
                    orders::expires_at,
                ))
                .load(conn)?;
            let mut holdings: HashMap<ListingId, StoredHoldings> =
                listing_ids.iter().map(|id| (*id, StoredHoldings::default())).collect();
            for (listing_id, user_id, units) in settled {
                let units = u64::try_from(units.unwrap_or(0))
                    .map_err(|_| StorageError::Corrupt(format!("listing {listing_id}: negative units")))?;
                let entry = holdings.entry(parse_id(&listing_id)?).or_default();
                entry.settled.push((parse_id(&user_id)?, units));
            }
            for (id, listing_id, user_id, quantity, expires_at) in reserved {
                let quantity =
                    u32::try_from(quantity).map_err(|_| StorageError::Corrupt(format!("order {id}: bad quantity")))?;
                let entry = holdings.entry(parse_id(&listing_id)?).or_default();
                entry.reserved.push(StoredOrder {
                    order_id: parse_id(&id)?,
                    user_id: parse_id(&user_id)?,
                    quantity,
                    expires_at: time::from_millis(expires_at),
                });
            }
            Ok(holdings)
        })
        .await
    }

    /// Rooms with reservations still holding stock (a full scan: it runs at start and then
    /// rarely, not per order, and an index on status would cost every order a write).
    pub async fn rooms_with_reservations(&self) -> StorageResult<Vec<RoomId>> {
        with_conn(&self.pool, move |conn| {
            let rooms: Vec<String> = orders::orders_orders
                .filter(orders::status.eq(OrderStatus::Reserved.as_str()))
                .select(orders::room_id)
                .distinct()
                .load(conn)?;
            rooms.iter().map(|r| parse_id(r)).collect()
        })
        .await
    }

    /// Orders of these listings (a room's) in the window, newest first, optionally of one
    /// status. Found through the listing index.
    pub async fn orders_of_listings(
        &self,
        listing_ids: Vec<ListingId>,
        status: Option<OrderStatus>,
        window: Window,
    ) -> StorageResult<Vec<Order>> {
        with_conn(&self.pool, move |conn| {
            let ids: Vec<String> = listing_ids.iter().map(|id| id.to_string()).collect();
            let mut query = orders::orders_orders
                .filter(orders::listing_id.eq_any(ids))
                .into_boxed();
            if let Some(status) = status {
                query = query.filter(orders::status.eq(status.as_str()));
            }
            let rows: Vec<Row> = newest_first!(query, orders::created_at, orders::id, window)
                .select(order_columns!())
                .load(conn)?;
            rows.into_iter().map(from_row).collect()
        })
        .await
    }

    /// Whether any order of the listing was ever stored (through the listing index).
    pub async fn listing_has_orders(&self, listing_id: ListingId) -> StorageResult<bool> {
        with_conn(&self.pool, move |conn| {
            let found: Option<String> = orders::orders_orders
                .filter(orders::listing_id.eq(listing_id.to_string()))
                .select(orders::id)
                .first(conn)
                .optional()?;
            Ok(found.is_some())
        })
        .await
    }

    /// The buyer's order made with this idempotency key, if any.
    pub async fn order_by_key(&self, user_id: UserId, key: String) -> StorageResult<Option<Order>> {
        with_conn(&self.pool, move |conn| order_by_idempotency_key(conn, user_id, &key)).await
    }
}

/// The buyer's order with this idempotency key (unique per buyer), in a statement SQLite keeps
/// prepared (see [`super::by_key`]). Every keyed order refused `SoldOut` asks it (it may be a
/// resent order that was placed), so a sell-out asks it once per buyer left out.
pub(super) fn order_by_idempotency_key(
    conn: &mut DbConnection,
    user_id: UserId,
    key: &str,
) -> StorageResult<Option<Order>> {
    let row: Option<Row> = orders::orders_orders
        .filter(
            orders::user_id
                .eq(user_id.to_string())
                .and(orders::idempotency_key.eq(key)),
        )
        .select(order_columns!())
        .get_result(conn)
        .optional()?;
    row.map(from_row).transpose()
}

/// An order by its key, in a statement SQLite keeps prepared (see [`super::by_key`]).
pub(super) fn order_by_id(conn: &mut DbConnection, id: OrderId) -> StorageResult<Option<Order>> {
    let row: Option<Row> = orders::orders_orders
        .find(id.to_string())
        .select(order_columns!())
        .get_result(conn)
        .optional()?;
    row.map(from_row).transpose()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::infrastructure::db::migrate;
    use crate::infrastructure::repos::buyer_index;
    use diesel::sqlite::SqliteConnection;
    use livecart_actors::ids::new_id;

    pub(in crate::infrastructure::repos) fn database() -> DbConnection {
        let mut conn = DbConnection::Sqlite(SqliteConnection::establish(":memory:").expect("an in-memory database"));
        migrate::run_pending(&mut conn).expect("migrated");
        conn
    }

    pub(in crate::infrastructure::repos) fn order(user_id: UserId, key: Option<&str>) -> Order {
        let now = Utc::now();
        Order {
            id: new_id(),
            room_id: new_id(),
            listing_id: new_id(),
            user_id,
            quantity: 1,
            unit_price_cents: 100,
            total_cents: 100,
            status: OrderStatus::Reserved,
            idempotency_key: key.map(str::to_owned),
            expires_at: now,
            created_at: now,
        }
    }

    fn stored(conn: &mut DbConnection) -> i64 {
        orders::orders_orders.count().get_result(conn).expect("counted")
    }

    #[test]
    fn only_a_reused_key_is_refused_in_chunks_with_and_without_keys() {
        let mut conn = database();
        let buyer = new_id();
        let first = order(buyer, Some("k1"));
        assert!(insert_new(&mut conn, &[&first]).expect("inserted").is_empty());
        // 35 rows: a chunk of 32 without keys, then a chunk of 2 and one of 1 with keys.
        let keyless: Vec<Order> = (0..32).map(|_| order(new_id(), None)).collect();
        let reused = order(buyer, Some("k1"));
        let fresh = order(buyer, Some("k2"));
        let other_buyer = order(new_id(), Some("k1"));
        let mut batch: Vec<&Order> = keyless.iter().collect();
        batch.extend([&reused, &fresh, &other_buyer]);
        let refused = insert_new(&mut conn, &batch).expect("inserted");
        assert_eq!(refused, HashSet::from([reused.id]), "the reused key alone");
        assert_eq!(stored(&mut conn), 35);
    }

    #[test]
    fn each_move_of_the_lifecycle_leaves_only_its_statuses_and_is_prepared_once_per_connection() {
        use OrderStatus::{Cancelled, Expired, Paid, Refunded, Reserved};
        let mut conn = database();
        let all: Vec<Order> = (0..6).map(|_| order(new_id(), None)).collect();
        insert_new(&mut conn, &all.iter().collect::<Vec<_>>()).expect("inserted");
        let at = Utc::now();
        let ids: Vec<OrderId> = all.iter().map(|o| o.id).collect();
        let (moved, not_kept) = crate::infrastructure::db::statements_not_kept(&mut conn, |conn| {
            let mut mark = |i: usize, from: &[OrderStatus], to| mark_status(conn, ids[i], from, to, at).expect("ran");
            vec![
                mark(0, &[Reserved], Cancelled),
                mark(1, &[Reserved], Expired),
                mark(1, &[Reserved], Expired),
                mark(2, &[Reserved], Paid),
                mark(3, &[Reserved], Expired),
                mark(3, &[Expired, Cancelled], Paid),
                mark(4, &[Reserved], Cancelled),
                mark(4, &[Expired, Cancelled], Refunded),
                mark(5, &[Expired, Cancelled], Refunded),
            ]
        });
        assert_eq!(
            moved,
            [1, 1, 0, 1, 1, 1, 1, 1, 0],
            "a replayed expiry and the refund of a reserved order move nothing"
        );
        let statuses: Vec<String> = ids
            .iter()
            .map(|id| {
                orders::orders_orders
                    .find(id.to_string())
                    .select(orders::status)
                    .first(&mut conn)
                    .expect("stored")
            })
            .collect();
        assert_eq!(
            statuses,
            ["cancelled", "expired", "paid", "paid", "refunded", "reserved"]
        );
        assert!(not_kept.is_empty(), "parsed again on every run: {not_kept:#?}");
    }

    pub(in crate::infrastructure::repos) fn sqlite(conn: &mut DbConnection) -> &mut SqliteConnection {
        match conn {
            DbConnection::Sqlite(c) => c,
            DbConnection::Pg(_) => unreachable!("an in-memory SQLite database"),
        }
    }

    fn ids_of(rows: Vec<Row>) -> Vec<String> {
        rows.into_iter().map(|row| row.0).collect()
    }

    #[test]
    fn a_buyers_orders_come_from_the_key_index_the_filed_index_and_the_unfiled_alike() {
        let mut conn = database();
        let unfiled = buyer_index::Unfiled::default();
        let buyer = new_id();
        let at = |ms: i64| {
            let mut o = order(buyer, None);
            o.created_at = time::from_millis(ms);
            o
        };
        let keyed = Order {
            idempotency_key: Some("k".into()),
            ..at(1_000)
        };
        let (filed_early, filed_late, not_filed) = (at(2_000), at(3_000), at(4_000));
        let someone_else = order(new_id(), None);
        insert_new(&mut conn, &[&keyed, &filed_early, &someone_else]).expect("inserted");
        insert_new(&mut conn, &[&filed_late]).expect("inserted");
        let filed = buyer_index::file_everything(&mut conn, &unfiled).expect("filed");
        assert_eq!(filed, 2 + 1, "keyless orders only");
        insert_new(&mut conn, &[&not_filed]).expect("inserted");

        let user = buyer.to_string();
        let newest_first = [not_filed.id, filed_late.id, filed_early.id, keyed.id];
        let newest_first: Vec<String> = newest_first.iter().map(ToString::to_string).collect();
        // As a reader may find them: one order named although the sweep filed it since.
        let named = [not_filed.id, filed_late.id];
        let all = sqlite_orders_of_user(sqlite(&mut conn), &user, &named, Window::ALL).expect("read");
        assert_eq!(ids_of(all), newest_first, "each order once, newest first");

        // Paging walks across the three parts without losing or repeating one.
        let mut after = None;
        let mut paged = Vec::new();
        loop {
            let window = Window { after, limit: Some(1) };
            let page = sqlite_orders_of_user(sqlite(&mut conn), &user, &named, window).expect("read");
            let Some(last) = page.last() else { break };
            after = Some((time::from_millis(last.10), parse_id(&last.0).expect("an id")));
            paged.extend(ids_of(page));
        }
        assert_eq!(paged, newest_first);
    }

    #[test]
    fn orders_stored_before_the_buyers_index_are_all_found_and_their_keys_still_hold() {
        let mut conn = database();
        migrate::revert_sqlite_to_before(sqlite(&mut conn), "2026-12-02-000000");
        let buyer = new_id();
        let keyed = order(buyer, Some("k"));
        let keyless = order(buyer, None);
        insert_new(&mut conn, &[&keyed, &keyless]).expect("inserted");
        migrate::run_pending(&mut conn).expect("migrated again");

        let all = sqlite_orders_of_user(sqlite(&mut conn), &buyer.to_string(), &[], Window::ALL).expect("read");
        let mut found = ids_of(all);
        found.sort();
        let mut expected = vec![keyed.id.to_string(), keyless.id.to_string()];
        expected.sort();
        assert_eq!(found, expected);
        let unfiled = buyer_index::Unfiled::default();
        assert_eq!(
            buyer_index::file_everything(&mut conn, &unfiled).expect("filed"),
            0,
            "filed by the migration"
        );
        let resent = order(buyer, Some("k"));
        assert_eq!(
            insert_new(&mut conn, &[&resent]).expect("inserted"),
            HashSet::from([resent.id])
        );
    }

    #[test]
    fn a_keyless_order_that_does_not_go_in_fails_the_batch() {
        let mut conn = database();
        let once = order(new_id(), None);
        assert!(insert_new(&mut conn, &[&once]).expect("inserted").is_empty());
        // The same id again: only a broken id generator could do it, and nothing may be
        // acknowledged for it.
        assert!(insert_new(&mut conn, &[&once]).is_err(), "alone");
        let keyed = order(new_id(), Some("k"));
        assert!(
            insert_new(&mut conn, &[&keyed, &once]).is_err(),
            "in a chunk with a key"
        );
    }
}
