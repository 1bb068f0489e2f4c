//! The PostgreSQL side both storage designs share: a pool, the order table, and the read-back of
//! a listing's rows for the gates. Blocking diesel calls run on actix-web's blocking pool, as an
//! actix-web service on diesel does.

use super::Refusal;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, Pool, PooledConnection};
use diesel::sql_types::{BigInt, Text};
use diesel::{QueryableByName, RunQueryDsl};

/// Connections per peer: enough for every order the two server workers keep in flight to wait
/// on the database rather than on the pool.
const POOL_SIZE: u32 = 32;

pub type Pg = Pool<ConnectionManager<PgConnection>>;
pub type Conn = PooledConnection<ConnectionManager<PgConnection>>;

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS listings (
    id TEXT PRIMARY KEY,
    stock BIGINT NOT NULL,
    stock_left BIGINT NOT NULL,
    per_user_limit BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY,
    listing_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS orders_by_buyer ON orders (listing_id, user_id);
";

pub fn pool(database_url: &str) -> anyhow::Result<Pg> {
    let pool = Pool::builder()
        .max_size(POOL_SIZE)
        .build(ConnectionManager::<PgConnection>::new(database_url))?;
    let mut conn = pool.get()?;
    diesel::connection::SimpleConnection::batch_execute(&mut conn, SCHEMA)?;
    Ok(pool)
}

/// Runs `f` with a pooled connection on the blocking pool.
pub async fn with<T: Send + 'static>(
    pool: &Pg,
    f: impl FnOnce(&mut Conn) -> Result<T, Refusal> + Send + 'static,
) -> Result<T, Refusal> {
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool.get().map_err(|e| Refusal::Unavailable(e.to_string()))?;
        f(&mut conn)
    })
    .await
    .map_err(|e| Refusal::Unavailable(e.to_string()))?
}

pub fn unavailable(e: diesel::result::Error) -> Refusal {
    Refusal::Unavailable(e.to_string())
}

/// Inserts one order row; its id.
pub fn insert_order(conn: &mut Conn, listing: &str, user: &str, quantity: u64) -> Result<String, Refusal> {
    let id = uuid::Uuid::new_v4().to_string();
    diesel::sql_query("INSERT INTO orders (id, listing_id, user_id, quantity) VALUES ($1, $2, $3, $4)")
        .bind::<Text, _>(&id)
        .bind::<Text, _>(listing)
        .bind::<Text, _>(user)
        .bind::<BigInt, _>(quantity as i64)
        .execute(conn)
        .map_err(unavailable)?;
    Ok(id)
}

#[derive(QueryableByName)]
struct RowCounts {
    #[diesel(sql_type = BigInt)]
    rows: i64,
    #[diesel(sql_type = BigInt)]
    units: i64,
    #[diesel(sql_type = BigInt)]
    max_per_user: i64,
}

/// `(rows, units, most units of one buyer)` stored for `listing`.
pub fn row_counts(conn: &mut Conn, listing: &str) -> Result<(u64, u64, u64), Refusal> {
    let counts: RowCounts = diesel::sql_query(
        "SELECT COALESCE(SUM(n), 0)::BIGINT AS rows, COALESCE(SUM(units), 0)::BIGINT AS units,
                COALESCE(MAX(units), 0)::BIGINT AS max_per_user
         FROM (SELECT COUNT(*) AS n, SUM(quantity) AS units FROM orders WHERE listing_id = $1 GROUP BY user_id) AS per_user",
    )
    .bind::<Text, _>(listing)
    .get_result(conn)
    .map_err(unavailable)?;
    Ok((counts.rows as u64, counts.units as u64, counts.max_per_user as u64))
}
