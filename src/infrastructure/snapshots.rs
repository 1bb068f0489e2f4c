//! The `SnapshotStore` port's adapters: Redis when configured (a key per room, one SET per write),
//! else the SQL database (`live_room_snapshots`, an upsert per write). Snapshots are JSON.

use super::db::{time, with_conn};
use super::repos::Storage;
use crate::per_backend;
use deadpool_redis::Pool;
use diesel::prelude::*;
use futures_util::future::BoxFuture;
use livecart_actors::snapshot::{RoomSnapshot, SnapshotError, SnapshotStore};
use livecart_actors::RoomId;
use std::time::Duration;

/// A write or read that takes longer is given up (and retried on the next tick): snapshots must
/// never hold anything up.
const TIMEOUT: Duration = Duration::from_secs(2);

fn key(room_id: RoomId) -> String {
    format!("livecart:snapshot:room:{room_id}")
}

fn fail(err: impl std::fmt::Display) -> SnapshotError {
    SnapshotError(err.to_string())
}

pub struct RedisSnapshots {
    pool: Pool,
}

impl RedisSnapshots {
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }
}

impl SnapshotStore for RedisSnapshots {
    fn save_room(&self, room_id: RoomId, snapshot: RoomSnapshot) -> BoxFuture<'static, Result<(), SnapshotError>> {
        let pool = self.pool.clone();
        Box::pin(async move {
            let body = serde_json::to_string(&snapshot).map_err(fail)?;
            let write = async {
                let mut conn = pool.get().await.map_err(fail)?;
                deadpool_redis::redis::cmd("SET")
                    .arg(key(room_id))
                    .arg(body)
                    .query_async::<()>(&mut conn)
                    .await
                    .map_err(fail)
            };
            tokio::time::timeout(TIMEOUT, write).await.map_err(fail)?
        })
    }

    fn load_room(&self, room_id: RoomId) -> BoxFuture<'static, Result<Option<RoomSnapshot>, SnapshotError>> {
        let pool = self.pool.clone();
        Box::pin(async move {
            let read = async {
                let mut conn = pool.get().await.map_err(fail)?;
                deadpool_redis::redis::cmd("GET")
                    .arg(key(room_id))
                    .query_async::<Option<String>>(&mut conn)
                    .await
                    .map_err(fail)
            };
            let body = tokio::time::timeout(TIMEOUT, read).await.map_err(fail)??;
            body.map(|b| serde_json::from_str(&b).map_err(fail)).transpose()
        })
    }
}

pub struct SqlSnapshots {
    storage: Storage,
}

impl SqlSnapshots {
    pub fn new(storage: Storage) -> Self {
        Self { storage }
    }
}

impl SnapshotStore for SqlSnapshots {
    fn save_room(&self, room_id: RoomId, snapshot: RoomSnapshot) -> BoxFuture<'static, Result<(), SnapshotError>> {
        use super::db::schema::live_room_snapshots::dsl as snaps;
        let pool = self.storage.pool.clone();
        Box::pin(async move {
            let body = serde_json::to_string(&snapshot).map_err(fail)?;
            let at = time::to_millis(chrono::Utc::now());
            with_conn(&pool, move |conn| {
                let row = (
                    snaps::room_id.eq(room_id.to_string()),
                    snaps::body.eq(&body),
                    snaps::updated_at.eq(at),
                );
                per_backend!(&mut **conn, c => diesel::insert_into(snaps::live_room_snapshots)
                    .values(row)
                    .on_conflict(snaps::room_id)
                    .do_update()
                    .set((snaps::body.eq(&body), snaps::updated_at.eq(at)))
                    .execute(c))?;
                Ok(())
            })
            .await
            .map_err(fail)
        })
    }

    fn load_room(&self, room_id: RoomId) -> BoxFuture<'static, Result<Option<RoomSnapshot>, SnapshotError>> {
        use super::db::schema::live_room_snapshots::dsl as snaps;
        let pool = self.storage.pool.clone();
        Box::pin(async move {
            let body: Option<String> = with_conn(&pool, move |conn| {
                Ok(snaps::live_room_snapshots
                    .find(room_id.to_string())
                    .select(snaps::body)
                    .first(conn)
                    .optional()?)
            })
            .await
            .map_err(fail)?;
            body.map(|b| serde_json::from_str(&b).map_err(fail)).transpose()
        })
    }
}
