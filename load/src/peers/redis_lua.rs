//! The common flash-sale design: stock and each buyer's units live in Redis, and one Lua script
//! per order checks and decrements them atomically (Redis runs scripts one at a time); the
//! order row is then inserted in PostgreSQL, and if that insert fails the script's effect is
//! given back. Redis is the source of truth for stock, the database for orders.

use super::sql::{self, Pg};
use super::{GateCounts, Refusal};
use deadpool_redis::redis::{self, AsyncCommands};
use deadpool_redis::{Config, Pool, Runtime};

/// KEYS: stock, holders (hash of user → units), the per-user limit. ARGV: user, quantity.
/// Returns the stock left, -1 when sold out, -2 over the buyer's limit, -3 no such listing.
const RESERVE: &str = r"
local stock = redis.call('GET', KEYS[1])
if not stock then return -3 end
local n = tonumber(ARGV[2])
if tonumber(stock) < n then return -1 end
local held = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if held + n > tonumber(redis.call('GET', KEYS[3])) then return -2 end
redis.call('HINCRBY', KEYS[2], ARGV[1], n)
return redis.call('DECRBY', KEYS[1], n)
";

/// Gives back what `RESERVE` took when the order row could not be stored.
const GIVE_BACK: &str = r"
redis.call('HINCRBY', KEYS[2], ARGV[1], -tonumber(ARGV[2]))
return redis.call('INCRBY', KEYS[1], ARGV[2])
";

pub struct RedisLua {
    redis: Pool,
    pg: Pg,
    /// The scripts' SHA1s, loaded once (`SCRIPT LOAD`), called by `EVALSHA`.
    reserve: String,
    give_back: String,
    /// Keys of this process's listings are under this prefix, so runs never share them.
    prefix: String,
}

fn failed(e: impl std::fmt::Display) -> Refusal {
    Refusal::Unavailable(e.to_string())
}

impl RedisLua {
    pub async fn connect(redis_url: &str, database_url: &str) -> anyhow::Result<RedisLua> {
        let redis = Config::from_url(redis_url).create_pool(Some(Runtime::Tokio1))?;
        let mut conn = redis.get().await?;
        let reserve: String = redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg(RESERVE)
            .query_async(&mut conn)
            .await?;
        let give_back: String = redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg(GIVE_BACK)
            .query_async(&mut conn)
            .await?;
        let url = database_url.to_owned();
        let pg = actix_web::web::block(move || sql::pool(&url)).await??;
        Ok(RedisLua {
            redis,
            pg,
            reserve,
            give_back,
            prefix: format!("livecart-load:{}", uuid::Uuid::new_v4().simple()),
        })
    }

    fn keys(&self, listing: &str) -> (String, String, String) {
        let base = format!("{}:{listing}", self.prefix);
        (
            format!("{base}:stock"),
            format!("{base}:holders"),
            format!("{base}:limit"),
        )
    }

    pub async fn listing(&self, stock: u64, per_user_limit: u64) -> anyhow::Result<String> {
        let id = uuid::Uuid::new_v4().to_string();
        let (stock_key, _, limit_key) = self.keys(&id);
        let mut conn = self.redis.get().await?;
        let _: () = conn.set(&stock_key, stock).await?;
        let _: () = conn.set(&limit_key, per_user_limit).await?;
        // Also a row, so the stock the sale began with is in the database beside its orders.
        let listing = id.clone();
        sql::with(&self.pg, move |conn| {
            diesel::RunQueryDsl::execute(
                diesel::sql_query(
                    "INSERT INTO listings (id, stock, stock_left, per_user_limit) VALUES ($1, $2, $2, $3)",
                )
                .bind::<diesel::sql_types::Text, _>(&listing)
                .bind::<diesel::sql_types::BigInt, _>(stock as i64)
                .bind::<diesel::sql_types::BigInt, _>(per_user_limit as i64),
                conn,
            )
            .map_err(sql::unavailable)
        })
        .await?;
        Ok(id)
    }

    pub async fn order(&self, listing: String, user: String, quantity: u64) -> Result<String, Refusal> {
        let (stock_key, holders_key, limit_key) = self.keys(&listing);
        let mut conn = self.redis.get().await.map_err(failed)?;
        let left: i64 = redis::cmd("EVALSHA")
            .arg(&self.reserve)
            .arg(3)
            .arg(&stock_key)
            .arg(&holders_key)
            .arg(&limit_key)
            .arg(&user)
            .arg(quantity)
            .query_async(&mut conn)
            .await
            .map_err(failed)?;
        match left {
            -1 => return Err(Refusal::SoldOut),
            -2 => return Err(Refusal::LimitExceeded),
            -3 => return Err(Refusal::NotFound),
            _ => {}
        }
        let (l, u) = (listing.clone(), user.clone());
        match sql::with(&self.pg, move |conn| sql::insert_order(conn, &l, &u, quantity)).await {
            Ok(id) => Ok(id),
            Err(refusal) => {
                let _: Result<i64, _> = redis::cmd("EVALSHA")
                    .arg(&self.give_back)
                    .arg(2)
                    .arg(&stock_key)
                    .arg(&holders_key)
                    .arg(&user)
                    .arg(quantity)
                    .query_async(&mut conn)
                    .await;
                Err(refusal)
            }
        }
    }

    /// Removes this process's keys (stock, holders, limits of its listings) when it stops.
    pub async fn clean_up(&self) -> anyhow::Result<()> {
        let mut conn = self.redis.get().await?;
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", self.prefix))
            .query_async(&mut conn)
            .await?;
        if !keys.is_empty() {
            let _: () = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await?;
        }
        Ok(())
    }

    pub async fn gate(&self, listing: String) -> anyhow::Result<GateCounts> {
        let (stock_key, _, _) = self.keys(&listing);
        let mut conn = self.redis.get().await?;
        let stock_left: Option<i64> = conn.get(&stock_key).await?;
        let stock_left = stock_left.ok_or_else(|| anyhow::anyhow!("no such listing"))?;
        let l = listing.clone();
        let (stock, rows, row_units, max_per_user) = sql::with(&self.pg, move |conn| {
            #[derive(diesel::QueryableByName)]
            struct Stock {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                stock: i64,
            }
            let s: Stock = diesel::RunQueryDsl::get_result(
                diesel::sql_query("SELECT stock FROM listings WHERE id = $1").bind::<diesel::sql_types::Text, _>(&l),
                conn,
            )
            .map_err(sql::unavailable)?;
            let (rows, units, max) = sql::row_counts(conn, &l)?;
            Ok((s.stock as u64, rows, units, max))
        })
        .await?;
        Ok(GateCounts {
            stock,
            stock_left,
            rows,
            row_units,
            max_per_user,
        })
    }
}
