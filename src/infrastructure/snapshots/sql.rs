//! Snapshots in the SQL database when Redis is not configured: a row per room
//! (`live_room_snapshots`), listing (`inventory_listing_snapshots`) or viewer session in a room
//! (`live_session_snapshots`, pruned an hour after its last write); a flush is one transaction of
//! upserts.

use super::write_behind::{Sink, WriteBehind};
use super::{fail, SnapshotKey, SESSION_KEEP_S};
use crate::infrastructure::db::schema::inventory_listing_snapshots::dsl as listings;
use crate::infrastructure::db::schema::live_room_snapshots::dsl as rooms;
use crate::infrastructure::db::schema::live_session_snapshots::dsl as sessions;
use crate::infrastructure::db::{time, with_conn, DbConnection, DbPool, StorageResult, TurnHolder, Writers};
use crate::infrastructure::repos::Storage;
use crate::per_backend;
use diesel::prelude::*;
use futures_util::future::BoxFuture;
use livecart_actors::snapshot::{ListingSnapshot, RoomSnapshot, SessionSnapshot, SnapshotError, SnapshotStore};
use livecart_actors::{ListingId, RoomId, UserId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};

/// The largest listing snapshot kept here, in entries (orders held, buyers holding). Writing
/// one holds SQLite's write turn, and every order of every listing waits behind it, for about
/// 1.8 µs per entry: a hot listing's snapshot of 357,000 reserved orders was 55 MB and held it
/// for half a second each time the sale paused. Rebuilding that listing from its orders at
/// load took 0.2 to 0.3 s longer than reading the snapshot back (docs/BENCHMARKS.md, "A hot
/// listing's snapshot no longer stalls SQLite"), a price paid once per restart instead of a
/// stall per pause. Up to this size a write holds the turn for under 4 ms. PostgreSQL has no such
/// lock, but the same megabytes go through the log whose flush every journal batch waits for,
/// so the limit is the SQL store's on both (measured on SQLite only).
const LISTING_ENTRIES_KEPT: usize = 2_048;

/// How often a flush also deletes the session snapshots past keeping.
const PRUNE_EVERY_MS: i64 = 60_000;

struct SqlSink {
    pool: DbPool,
    writers: Writers,
    /// When the session snapshots were last pruned (Unix milliseconds).
    pruned_at: AtomicI64,
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
        SnapshotKey::Session(room_id, user_id) => {
            let row = (
                sessions::room_id.eq(room_id.to_string()),
                sessions::user_id.eq(user_id.to_string()),
                sessions::body.eq(body),
                sessions::updated_at.eq(at),
            );
            per_backend!(conn, c => diesel::insert_into(sessions::live_session_snapshots)
                .values(row)
                .on_conflict((sessions::room_id, sessions::user_id))
                .do_update()
                .set((sessions::body.eq(body), sessions::updated_at.eq(at)))
                .execute(c))
        }
    }
}

/// Deletes the session snapshots no reconnect will use any more.
fn prune_sessions(conn: &mut DbConnection, now: i64) -> QueryResult<usize> {
    let before = now - (SESSION_KEEP_S as i64) * 1000;
    per_backend!(conn, c => diesel::delete(sessions::live_session_snapshots.filter(sessions::updated_at.lt(before)))
        .execute(c))
}

impl Sink for SqlSink {
    fn write(&self, batch: Vec<(SnapshotKey, String)>) -> BoxFuture<'static, Result<bool, SnapshotError>> {
        let (pool, writers) = (self.pool.clone(), self.writers.clone());
        let at = time::to_millis(chrono::Utc::now());
        let prune = !batch.is_empty() && at - self.pruned_at.load(Ordering::Relaxed) >= PRUNE_EVERY_MS;
        if prune {
            self.pruned_at.store(at, Ordering::Relaxed);
        }
        Box::pin(async move {
            if batch.is_empty() {
                return Ok(false);
            }
            with_conn(&pool, move |conn| -> StorageResult<()> {
                let _turn = writers.turn(TurnHolder::Snapshots);
                conn.transaction(|conn| {
                    for (of, body) in &batch {
                        upsert(conn, *of, body, at)?;
                    }
                    if prune {
                        prune_sessions(conn, at)?;
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
            writers: storage.writers.clone(),
            pruned_at: AtomicI64::new(0),
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
        self.writes
            .save_json_off_thread(SnapshotKey::Listing(listing_id), snapshot)
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

    fn flush(&self) -> BoxFuture<'static, Result<(), SnapshotError>> {
        self.writes.flush()
    }

    fn listing_entries_kept(&self) -> usize {
        LISTING_ENTRIES_KEPT
    }

    fn save_session(
        &self,
        room_id: RoomId,
        user_id: UserId,
        snapshot: SessionSnapshot,
    ) -> BoxFuture<'static, Result<(), SnapshotError>> {
        self.writes.save_json(SnapshotKey::Session(room_id, user_id), &snapshot)
    }

    fn load_session(
        &self,
        room_id: RoomId,
        user_id: UserId,
    ) -> BoxFuture<'static, Result<Option<SessionSnapshot>, SnapshotError>> {
        if let Some(queued) = self.writes.unwritten(SnapshotKey::Session(room_id, user_id)) {
            return Box::pin(async move { queued.map(Some) });
        }
        let pool = self.storage.pool.clone();
        Box::pin(async move {
            let body: Option<String> = with_conn(&pool, move |conn| {
                Ok(sessions::live_session_snapshots
                    .find((room_id.to_string(), user_id.to_string()))
                    .select(sessions::body)
                    .first(conn)
                    .optional()?)
            })
            .await
            .map_err(fail)?;
            body.map(|b| serde_json::from_str(&b).map_err(fail)).transpose()
        })
    }
}
