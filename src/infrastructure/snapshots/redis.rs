//! Snapshots in Redis: a key per room or listing, kept a week after its last write (a room
//! that never comes back does not stay forever), and per viewer session, kept an hour. A flush
//! is one pipeline.

use super::write_behind::{Sink, WriteBehind};
use super::{fail, SnapshotKey, SESSION_KEEP_S, TIMEOUT};
use deadpool_redis::redis::{self, pipe};
use deadpool_redis::Pool;
use futures_util::future::BoxFuture;
use livecart_actors::snapshot::{ListingSnapshot, RoomSnapshot, SessionSnapshot, SnapshotError, SnapshotStore};
use livecart_actors::{ListingId, RoomId, UserId};
use std::collections::HashMap;

const KEEP_FOR_S: u64 = 7 * 24 * 3600;

/// Set when the first flush reaches this Redis; found missing, it means Redis lost its data
/// (it keeps nothing across a restart unless persistence is on).
const SENTINEL: &str = "livecart:snapshot:sentinel";

fn key(of: SnapshotKey) -> String {
    match of {
        SnapshotKey::Room(id) => format!("livecart:snapshot:room:{id}"),
        SnapshotKey::Listing(id) => format!("livecart:snapshot:listing:{id}"),
        SnapshotKey::Session(room_id, user_id) => format!("livecart:snapshot:session:{room_id}:{user_id}"),
    }
}

fn keep_for(of: SnapshotKey) -> u64 {
    match of {
        SnapshotKey::Session(..) => SESSION_KEEP_S,
        SnapshotKey::Room(_) | SnapshotKey::Listing(_) => KEEP_FOR_S,
    }
}

struct RedisSink {
    pool: Pool,
}

impl Sink for RedisSink {
    fn write(&self, batch: Vec<(SnapshotKey, String)>) -> BoxFuture<'static, Result<bool, SnapshotError>> {
        let pool = self.pool.clone();
        Box::pin(async move {
            let mut conn = pool.get().await.map_err(fail)?;
            let mut pipeline = pipe();
            pipeline.cmd("SET").arg(SENTINEL).arg(1).arg("NX");
            for (of, body) in &batch {
                pipeline
                    .cmd("SET")
                    .arg(key(*of))
                    .arg(body)
                    .arg("EX")
                    .arg(keep_for(*of))
                    .ignore();
            }
            let (created,): (Option<String>,) = pipeline.query_async(&mut conn).await.map_err(fail)?;
            Ok(created.is_some())
        })
    }
}

pub struct RedisSnapshots {
    pool: Pool,
    writes: WriteBehind,
}

impl RedisSnapshots {
    pub fn new(pool: Pool) -> Self {
        let writes = WriteBehind::start(RedisSink { pool: pool.clone() });
        Self { pool, writes }
    }

    fn read<T: serde::de::DeserializeOwned>(
        &self,
        keys: Vec<SnapshotKey>,
    ) -> BoxFuture<'static, Result<Vec<Option<T>>, SnapshotError>> {
        let pool = self.pool.clone();
        Box::pin(async move {
            if keys.is_empty() {
                return Ok(Vec::new());
            }
            let read = async {
                let mut conn = pool.get().await.map_err(fail)?;
                let names: Vec<String> = keys.iter().map(|k| key(*k)).collect();
                redis::cmd("MGET")
                    .arg(names)
                    .query_async::<Vec<Option<String>>>(&mut conn)
                    .await
                    .map_err(fail)
            };
            let bodies = tokio::time::timeout(TIMEOUT, read).await.map_err(fail)??;
            bodies
                .into_iter()
                .map(|body| body.map(|b| serde_json::from_str(&b).map_err(fail)).transpose())
                .collect()
        })
    }
}

impl SnapshotStore for RedisSnapshots {
    fn save_room(&self, room_id: RoomId, snapshot: RoomSnapshot) -> BoxFuture<'static, Result<(), SnapshotError>> {
        self.writes.save_json(SnapshotKey::Room(room_id), &snapshot)
    }

    fn load_room(&self, room_id: RoomId) -> BoxFuture<'static, Result<Option<RoomSnapshot>, SnapshotError>> {
        let read = self.read::<RoomSnapshot>(vec![SnapshotKey::Room(room_id)]);
        Box::pin(async move { Ok(read.await?.pop().flatten()) })
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
        let read = self.read::<ListingSnapshot>(listing_ids.iter().map(|id| SnapshotKey::Listing(*id)).collect());
        Box::pin(async move {
            let found = read.await?;
            Ok(listing_ids
                .into_iter()
                .zip(found)
                .filter_map(|(id, snapshot)| Some((id, snapshot?)))
                .collect())
        })
    }

    fn flush(&self) -> BoxFuture<'static, Result<(), SnapshotError>> {
        self.writes.flush()
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
        let key = SnapshotKey::Session(room_id, user_id);
        if let Some(queued) = self.writes.unwritten(key) {
            return Box::pin(async move { queued.map(Some) });
        }
        let read = self.read::<SessionSnapshot>(vec![key]);
        Box::pin(async move { Ok(read.await?.pop().flatten()) })
    }

    fn generation(&self) -> u64 {
        self.writes.generation()
    }
}
