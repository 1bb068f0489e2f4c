//! Snapshots in the SQL database when Redis is not configured: a row per room
//! (`live_room_snapshots`) or listing (`inventory_listing_snapshots`); a flush is one
//! transaction of upserts.

use super::write_behind::{Sink, WriteBehind};
use super::{fail, SnapshotKey};
use crate::infrastructure::db::schema::inventory_listing_snapshots::dsl as listings;
use crate::infrastructure::db::schema::live_room_snapshots::dsl as rooms;
use crate::infrastructure::db::{time, with_conn, DbConnection, DbPool, StorageResult};
use crate::infrastructure::repos::Storage;
use crate::per_backend;
use diesel::prelude::*;
use futures_util::future::BoxFuture;
use livecart_actors::snapshot::{ListingSnapshot, RoomSnapshot, SnapshotError, SnapshotStore};
use livecart_actors::{ListingId, RoomId};
use std::collections::HashMap;

struct SqlSink {
    pool: DbPool,
}

fn upsert(conn: &mut DbConnection, of: SnapshotKey, body: &str, at: i64) -> QueryResult<usize> {
    match of {
        SnapshotKey::Room(id) => {
            let row = (
                rooms::room_id.eq(id.to_string()),
                rooms::body.eq(body),
                rooms::updated_at.eq(at),
            );
            per_backend!(conn, c => diesel::insert_into(rooms::live_room_snapshots)
                .values(row)
                .on_conflict(rooms::room_id)
                .do_update()
                .set((rooms::body.eq(body), rooms::updated_at.eq(at)))
                .execute(c))
        }
        SnapshotKey::Listing(id) => {
            let row = (
                listings::listing_id.eq(id.to_string()),
                listings::body.eq(body),
                listings::updated_at.eq(at),
            );
            per_backend!(conn, c => diesel::insert_into(listings::inventory_listing_snapshots)
                .values(row)
                .on_conflict(listings::listing_id)
                .do_update()
                .set((listings::body.eq(body), listings::updated_at.eq(at)))
                .execute(c))
        }
    }
}

impl Sink for SqlSink {
    fn write(&self, batch: Vec<(SnapshotKey, String)>) -> BoxFuture<'static, Result<bool, SnapshotError>> {
        let pool = self.pool.clone();
        Box::pin(async move {
            if batch.is_empty() {
                return Ok(false);
            }
            let at = time::to_millis(chrono::Utc::now());
            with_conn(&pool, move |conn| -> StorageResult<()> {
                conn.transaction(|conn| {
                    for (of, body) in &batch {
                        upsert(conn, *of, body, at)?;
                    }
                    Ok::<_, diesel::result::Error>(())
                })?;
                Ok(())
            })
            .await
            .map_err(fail)?;
            // The database keeps what it was given: nothing is ever lost there.
            Ok(false)
        })
    }
}

pub struct SqlSnapshots {
    storage: Storage,
    writes: WriteBehind,
}

impl SqlSnapshots {
    pub fn new(storage: Storage) -> Self {
        let writes = WriteBehind::start(SqlSink {
            pool: storage.pool.clone(),
        });
        Self { storage, writes }
    }
}

impl SnapshotStore for SqlSnapshots {
    fn save_room(&self, room_id: RoomId, snapshot: RoomSnapshot) -> BoxFuture<'static, Result<(), SnapshotError>> {
        self.writes.save_json(SnapshotKey::Room(room_id), &snapshot)
    }

    fn load_room(&self, room_id: RoomId) -> BoxFuture<'static, Result<Option<RoomSnapshot>, SnapshotError>> {
        let pool = self.storage.pool.clone();
        Box::pin(async move {
            let body: Option<String> = with_conn(&pool, move |conn| {
                Ok(rooms::live_room_snapshots
                    .find(room_id.to_string())
                    .select(rooms::body)
                    .first(conn)
                    .optional()?)
            })
            .await
            .map_err(fail)?;
            body.map(|b| serde_json::from_str(&b).map_err(fail)).transpose()
        })
    }

    fn save_listing(
        &self,
        listing_id: ListingId,
        snapshot: ListingSnapshot,
    ) -> BoxFuture<'static, Result<(), SnapshotError>> {
        self.writes.save_json(SnapshotKey::Listing(listing_id), &snapshot)
    }

    fn load_listings(
        &self,
        listing_ids: Vec<ListingId>,
    ) -> BoxFuture<'static, Result<HashMap<ListingId, ListingSnapshot>, SnapshotError>> {
        let pool = self.storage.pool.clone();
        Box::pin(async move {
            let keys: Vec<String> = listing_ids.iter().map(|id| id.to_string()).collect();
            let rows: Vec<(String, String)> = with_conn(&pool, move |conn| {
                Ok(listings::inventory_listing_snapshots
                    .filter(listings::listing_id.eq_any(&keys))
                    .select((listings::listing_id, listings::body))
                    .load(conn)?)
            })
            .await
            .map_err(fail)?;
            rows.into_iter()
                .map(|(id, body)| {
                    let id: ListingId = id.parse().map_err(fail)?;
                    Ok((id, serde_json::from_str(&body).map_err(fail)?))
                })
                .collect()
        })
    }
}
