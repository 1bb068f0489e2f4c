//! The textbook design: the stock is a row, and each order is one transaction that decrements it
//! only while enough is left (`UPDATE … WHERE stock_left >= n`), checks the buyer's units while
//! holding that row's lock (so concurrent orders of one buyer cannot both pass), and inserts the
//! order row. Every order of a listing queues on the one row lock.

use super::sql::{self, Pg};
use super::{GateCounts, Refusal};
use diesel::sql_types::{BigInt, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl};

pub struct PgRowLock {
    pool: Pg,
}

#[derive(QueryableByName)]
struct Units {
    #[diesel(sql_type = BigInt)]
    units: i64,
}

#[derive(QueryableByName)]
struct Limit {
    #[diesel(sql_type = BigInt)]
    per_user_limit: i64,
}

#[derive(QueryableByName)]
struct Listing {
    #[diesel(sql_type = BigInt)]
    stock: i64,
    #[diesel(sql_type = BigInt)]
    stock_left: i64,
}

impl PgRowLock {
    pub async fn connect(database_url: &str) -> anyhow::Result<PgRowLock> {
        let url = database_url.to_owned();
        let pool = actix_web::web::block(move || sql::pool(&url)).await??;
        Ok(PgRowLock { pool })
    }

    pub async fn listing(&self, stock: u64, per_user_limit: u64) -> anyhow::Result<String> {
        let id = uuid::Uuid::new_v4().to_string();
        let listing = id.clone();
        sql::with(&self.pool, move |conn| {
            diesel::sql_query("INSERT INTO listings (id, stock, stock_left, per_user_limit) VALUES ($1, $2, $2, $3)")
                .bind::<Text, _>(&listing)
                .bind::<BigInt, _>(stock as i64)
                .bind::<BigInt, _>(per_user_limit as i64)
                .execute(conn)
                .map_err(sql::unavailable)
        })
        .await?;
        Ok(id)
    }

    pub async fn order(&self, listing: String, user: String, quantity: u64) -> Result<String, Refusal> {
        sql::with(&self.pool, move |conn| {
            conn.transaction(|conn| {
                let taken: Vec<Limit> = diesel::sql_query(
                    "UPDATE listings SET stock_left = stock_left - $1 WHERE id = $2 AND stock_left >= $1
                     RETURNING per_user_limit",
                )
                .bind::<BigInt, _>(quantity as i64)
                .bind::<Text, _>(&listing)
                .load(conn)
                .map_err(sql::unavailable)?;
                let Some(limit) = taken.first() else {
                    return Err(sold_out_or_unknown(conn, &listing));
                };
                let held: Units = diesel::sql_query(
                    "SELECT COALESCE(SUM(quantity), 0)::BIGINT AS units FROM orders WHERE listing_id = $1 AND user_id = $2",
                )
                .bind::<Text, _>(&listing)
                .bind::<Text, _>(&user)
                .get_result(conn)
                .map_err(sql::unavailable)?;
                if held.units as u64 + quantity > limit.per_user_limit as u64 {
                    return Err(Refusal::LimitExceeded);
                }
                sql::insert_order(conn, &listing, &user, quantity)
            })
        })
        .await
    }

    pub async fn gate(&self, listing: String) -> anyhow::Result<GateCounts> {
        Ok(sql::with(&self.pool, move |conn| {
            let l = read(conn, &listing)?.ok_or(Refusal::NotFound)?;
            let (rows, row_units, max_per_user) = sql::row_counts(conn, &listing)?;
            Ok(GateCounts {
                stock: l.stock as u64,
                stock_left: l.stock_left,
                rows,
                row_units,
                max_per_user,
            })
        })
        .await?)
    }
}

fn read(conn: &mut sql::Conn, listing: &str) -> Result<Option<Listing>, Refusal> {
    let mut found: Vec<Listing> = diesel::sql_query("SELECT stock, stock_left FROM listings WHERE id = $1")
        .bind::<Text, _>(listing)
        .load(conn)
        .map_err(sql::unavailable)?;
    Ok(found.pop())
}

fn sold_out_or_unknown(conn: &mut sql::Conn, listing: &str) -> Refusal {
    match read(conn, listing) {
        Ok(Some(_)) => Refusal::SoldOut,
        Ok(None) => Refusal::NotFound,
        Err(e) => e,
    }
}

/// diesel's transaction needs its error type to take diesel's errors.
impl From<diesel::result::Error> for Refusal {
    fn from(e: diesel::result::Error) -> Refusal {
        sql::unavailable(e)
    }
}
