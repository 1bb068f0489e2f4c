//! `catalog_listings`: flash listings placed into rooms, with their terms and total stock.

use super::Storage;
use crate::application::ports::catalog::ListingRecord;
use crate::infrastructure::db::schema::catalog_listings::dsl as listings;
use crate::infrastructure::db::{
    parse_id, time, with_conn, with_write_conn, DbConnection, StorageError, StorageResult,
};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use livecart_actors::{ListingId, RoomId};
use std::collections::HashMap;

type Row = (String, String, String, i64, i64, i32, Option<i64>, Option<i64>, i64);

fn from_row(row: Row) -> StorageResult<ListingRecord> {
    let (id, room_id, title, price_cents, stock_total, per_user_limit, starts_at, ends_at, created_at) = row;
    let corrupt = |what: &str| StorageError::Corrupt(format!("listing {id}: bad {what}"));
    Ok(ListingRecord {
        id: parse_id(&id)?,
        room_id: parse_id(&room_id)?,
        title,
        price_cents,
        stock_total: u64::try_from(stock_total).map_err(|_| corrupt("stock_total"))?,
        per_user_limit: u32::try_from(per_user_limit).map_err(|_| corrupt("per_user_limit"))?,
        starts_at: starts_at.map(time::from_millis),
        ends_at: ends_at.map(time::from_millis),
        created_at: time::from_millis(created_at),
    })
}

/// Adds restocked units inside the journal's transaction.
pub fn add_stock(conn: &mut crate::infrastructure::db::DbConnection, id: ListingId, added: u32) -> QueryResult<usize> {
    diesel::update(listings::catalog_listings.find(id.to_string()))
        .set(listings::stock_total.eq(listings::stock_total + i64::from(added)))
        .execute(conn)
}

/// Advances the listing's journal position by the entries of it a batch wrote, inside the
/// journal's transaction (see `livecart_actors::journal`).
pub fn advance_position(
    conn: &mut crate::infrastructure::db::DbConnection,
    id: ListingId,
    entries: u32,
) -> QueryResult<usize> {
    AdvancePosition {
        by: i64::from(entries),
        id: id.to_string(),
    }
    .execute(conn)
}

crate::fixed_sql! {
    /// The journal's every batch, per listing: see `db::fixed_sql`.
    struct AdvancePosition { by: i64 as BigInt, id: String as Text }
    sql = ["UPDATE catalog_listings SET journal_position = journal_position + ", " WHERE id = ", ""];
}

macro_rules! listing_columns {
    () => {
        (
            listings::id,
            listings::room_id,
            listings::title,
            listings::price_cents,
            listings::stock_total,
            listings::per_user_limit,
            listings::starts_at,
            listings::ends_at,
            listings::created_at,
        )
    };
}

impl Storage {
    pub async fn insert_listing(&self, listing: ListingRecord) -> StorageResult<()> {
        with_write_conn(&self.pool, &self.writers, move |conn| {
            diesel::insert_into(listings::catalog_listings)
                .values((
                    listings::id.eq(listing.id.to_string()),
                    listings::room_id.eq(listing.room_id.to_string()),
                    listings::title.eq(listing.title),
                    listings::price_cents.eq(listing.price_cents),
                    // Bounded by the use case's validation, far below i64::MAX.
                    listings::stock_total.eq(listing.stock_total as i64),
                    listings::per_user_limit.eq(listing.per_user_limit as i32),
                    listings::starts_at.eq(listing.starts_at.map(time::to_millis)),
                    listings::ends_at.eq(listing.ends_at.map(time::to_millis)),
                    listings::created_at.eq(time::to_millis(listing.created_at)),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await
    }

    pub async fn find_listing(&self, id: ListingId) -> StorageResult<Option<ListingRecord>> {
        with_conn(&self.pool, move |conn| listing_by_id(conn, id)).await
    }

    /// The room's listings in the order they were placed.
    pub async fn listings_of_room(&self, room_id: RoomId) -> StorageResult<Vec<ListingRecord>> {
        with_conn(&self.pool, move |conn| {
            let rows: Vec<Row> = listings::catalog_listings
                .filter(listings::room_id.eq(room_id.to_string()))
                .order((listings::created_at.asc(), listings::id.asc()))
                .select(listing_columns!())
                .load(conn)?;
            rows.into_iter().map(from_row).collect()
        })
        .await
    }

    /// Writes the listing's terms, title and total stock. Its InventoryActor calls this (through
    /// the application) while it decides nothing else, so no restock commits in between.
    pub async fn update_listing(&self, listing: ListingRecord) -> StorageResult<()> {
        with_write_conn(&self.pool, &self.writers, move |conn| {
            diesel::update(listings::catalog_listings.find(listing.id.to_string()))
                .set((
                    listings::title.eq(listing.title),
                    listings::price_cents.eq(listing.price_cents),
                    // Bounded by the use case's validation, far below i64::MAX.
                    listings::stock_total.eq(listing.stock_total as i64),
                    listings::per_user_limit.eq(listing.per_user_limit as i32),
                    listings::starts_at.eq(listing.starts_at.map(time::to_millis)),
                    listings::ends_at.eq(listing.ends_at.map(time::to_millis)),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await
    }

    /// Ends the sale at `at`, unless the window ended earlier.
    pub async fn close_listing(&self, id: ListingId, at: DateTime<Utc>) -> StorageResult<()> {
        let at = time::to_millis(at);
        with_write_conn(&self.pool, &self.writers, move |conn| {
            diesel::update(
                listings::catalog_listings
                    .find(id.to_string())
                    .filter(listings::ends_at.is_null().or(listings::ends_at.gt(at))),
            )
            .set(listings::ends_at.eq(at))
            .execute(conn)?;
            Ok(())
        })
        .await
    }

    pub async fn delete_listing(&self, id: ListingId) -> StorageResult<()> {
        with_write_conn(&self.pool, &self.writers, move |conn| {
            diesel::delete(listings::catalog_listings.find(id.to_string())).execute(conn)?;
            Ok(())
        })
        .await
    }

    /// The journal positions of these listings; a listing that does not exist is absent.
    pub async fn journal_positions(&self, ids: Vec<ListingId>) -> StorageResult<HashMap<ListingId, u64>> {
        with_conn(&self.pool, move |conn| {
            let keys: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
            let rows: Vec<(String, i64)> = listings::catalog_listings
                .filter(listings::id.eq_any(&keys))
                .select((listings::id, listings::journal_position))
                .load(conn)?;
            rows.into_iter()
                .map(|(id, position)| {
                    let position = u64::try_from(position)
                        .map_err(|_| StorageError::Corrupt(format!("listing {id}: negative journal position")))?;
                    Ok((parse_id(&id)?, position))
                })
                .collect()
        })
        .await
    }
}

/// A listing by its key, in a statement SQLite keeps prepared (see [`super::by_key`]).
pub(super) fn listing_by_id(conn: &mut DbConnection, id: ListingId) -> StorageResult<Option<ListingRecord>> {
    let row: Option<Row> = listings::catalog_listings
        .find(id.to_string())
        .select(listing_columns!())
        .get_result(conn)
        .optional()?;
    row.map(from_row).transpose()
}
