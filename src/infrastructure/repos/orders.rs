//! `orders_orders`: every order, as the journal commits it.

use super::Storage;
use crate::application::ports::Window;
use crate::infrastructure::db::schema::orders_orders::dsl as orders;
use crate::infrastructure::db::{parse_id, time, with_conn, DbConnection, StorageError, StorageResult};
use crate::{in_fixed_chunks, per_backend};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
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
    status: String,
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
            status: o.status.as_str().to_owned(),
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

/// Inserts new orders in one statement inside the journal's transaction. An order whose buyer
/// already used its idempotency key is skipped; the ids that did go in are returned.
pub fn insert_new(conn: &mut DbConnection, batch: &[&Order]) -> QueryResult<HashSet<String>> {
    if batch.is_empty() {
        return Ok(HashSet::new());
    }
    let rows: Vec<NewOrder> = batch.iter().map(|o| NewOrder::from(*o)).collect();
    let inserted: Vec<Vec<String>> = per_backend!(conn, c => in_fixed_chunks!(rows.as_slice(), |chunk| {
        diesel::insert_into(orders::orders_orders)
            .values(chunk)
            .on_conflict_do_nothing()
            .returning(orders::id)
            .get_results::<String>(c)
    }))?;
    Ok(inserted.into_iter().flatten().collect())
}

/// Moves an order from one of `from` to `to` inside the journal's transaction (the actor
/// decided it; the condition keeps a replay from moving it twice).
pub fn mark_status(
    conn: &mut DbConnection,
    id: OrderId,
    from: &[OrderStatus],
    to: OrderStatus,
    at: DateTime<Utc>,
) -> QueryResult<usize> {
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    diesel::update(orders::orders_orders.filter(orders::id.eq(id.to_string()).and(orders::status.eq_any(from))))
        .set((
            orders::status.eq(to.as_str()),
            orders::updated_at.eq(time::to_millis(at)),
        ))
        .execute(conn)
}

impl Storage {
    pub async fn find_order(&self, id: OrderId) -> StorageResult<Option<Order>> {
        with_conn(&self.pool, move |conn| {
            let row: Option<Row> = orders::orders_orders
                .find(id.to_string())
                .select(order_columns!())
                .first(conn)
                .optional()?;
            row.map(from_row).transpose()
        })
        .await
    }

    /// The buyer's orders in the window, newest first (found through the prefix of the
    /// `(user_id, idempotency_key)` index).
    pub async fn orders_of_user(&self, user_id: UserId, window: Window) -> StorageResult<Vec<Order>> {
        with_conn(&self.pool, move |conn| {
            let query = orders::orders_orders
                .filter(orders::user_id.eq(user_id.to_string()))
                .into_boxed();
            let rows: Vec<Row> = newest_first!(query, orders::created_at, orders::id, window)
                .select(order_columns!())
                .load(conn)?;
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
        with_conn(&self.pool, move |conn| {
            let row: Option<Row> = orders::orders_orders
                .filter(
                    orders::user_id
                        .eq(user_id.to_string())
                        .and(orders::idempotency_key.eq(key)),
                )
                .select(order_columns!())
                .first(conn)
                .optional()?;
            row.map(from_row).transpose()
        })
        .await
    }
}
