//! `live_rooms`: the rooms, their lifecycle and pinned listing.

use super::{outbox, Storage};
use crate::application::ports::live::RoomRecord;
use crate::application::ports::Window;
use crate::infrastructure::db::schema::live_rooms::dsl as rooms;
use crate::infrastructure::db::{
    parse_id, time, with_conn, with_write_conn, DbConnection, StorageError, StorageResult,
};
use chrono::Utc;
use diesel::prelude::*;
use livecart_actors::events::DomainEvent;
use livecart_actors::room::RoomStatus;
use livecart_actors::{ListingId, RoomId, UserId};

type Row = (String, String, String, String, Option<i64>, String, Option<String>, i64);

fn from_row(row: Row) -> StorageResult<RoomRecord> {
    let (id, merchant_id, title, status, scheduled_at, stream_key, pinned, created_at) = row;
    Ok(RoomRecord {
        id: parse_id(&id)?,
        merchant_id: parse_id(&merchant_id)?,
        title,
        status: RoomStatus::parse(&status).ok_or_else(|| StorageError::Corrupt(format!("bad status {status:?}")))?,
        scheduled_at: scheduled_at.map(time::from_millis),
        stream_key,
        pinned_listing_id: pinned.as_deref().map(parse_id).transpose()?,
        created_at: time::from_millis(created_at),
    })
}

macro_rules! room_columns {
    () => {
        (
            rooms::id,
            rooms::merchant_id,
            rooms::title,
            rooms::status,
            rooms::scheduled_at,
            rooms::stream_key,
            rooms::pinned_listing_id,
            rooms::created_at,
        )
    };
}

impl Storage {
    pub async fn insert_room(&self, room: RoomRecord) -> StorageResult<()> {
        with_write_conn(&self.pool, &self.writers, move |conn| {
            diesel::insert_into(rooms::live_rooms)
                .values((
                    rooms::id.eq(room.id.to_string()),
                    rooms::merchant_id.eq(room.merchant_id.to_string()),
                    rooms::title.eq(room.title),
                    rooms::status.eq(room.status.as_str()),
                    rooms::scheduled_at.eq(room.scheduled_at.map(time::to_millis)),
                    rooms::stream_key.eq(room.stream_key),
                    rooms::pinned_listing_id.eq(room.pinned_listing_id.map(|id| id.to_string())),
                    rooms::created_at.eq(time::to_millis(room.created_at)),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await
    }

    pub async fn find_room(&self, id: RoomId) -> StorageResult<Option<RoomRecord>> {
        with_conn(&self.pool, move |conn| room_by_id(conn, id)).await
    }

    /// The merchant's rooms in the window, newest first.
    pub async fn rooms_of_merchant(&self, merchant_id: UserId, window: Window) -> StorageResult<Vec<RoomRecord>> {
        with_conn(&self.pool, move |conn| {
            let query = rooms::live_rooms
                .filter(rooms::merchant_id.eq(merchant_id.to_string()))
                .into_boxed();
            let rows: Vec<Row> = newest_first!(query, rooms::created_at, rooms::id, window)
                .select(room_columns!())
                .load(conn)?;
            rows.into_iter().map(from_row).collect()
        })
        .await
    }

    /// Moves the room to `to` only from `from`, with its event, in one transaction. `false` when
    /// the room was not in `from` (another call moved it first).
    pub async fn transition_room(
        &self,
        id: RoomId,
        from: RoomStatus,
        to: RoomStatus,
        event: DomainEvent,
    ) -> StorageResult<bool> {
        let at = time::to_millis(event.at);
        with_write_conn(&self.pool, &self.writers, move |conn| {
            conn.transaction(|conn| {
                let target =
                    rooms::live_rooms.filter(rooms::id.eq(id.to_string()).and(rooms::status.eq(from.as_str())));
                let changed = match to {
                    RoomStatus::Live => diesel::update(target)
                        .set((rooms::status.eq(to.as_str()), rooms::started_at.eq(at)))
                        .execute(conn)?,
                    _ => diesel::update(target)
                        .set((rooms::status.eq(to.as_str()), rooms::ended_at.eq(at)))
                        .execute(conn)?,
                };
                if changed == 1 {
                    outbox::append(conn, &[&event])?;
                }
                Ok(changed == 1)
            })
        })
        .await
    }

    /// Pins the listing, or unpins with `None`.
    pub async fn set_pinned_listing(&self, id: RoomId, listing_id: Option<ListingId>) -> StorageResult<()> {
        with_write_conn(&self.pool, &self.writers, move |conn| {
            diesel::update(rooms::live_rooms.find(id.to_string()))
                .set(rooms::pinned_listing_id.eq(listing_id.map(|l| l.to_string())))
                .execute(conn)?;
            Ok(())
        })
        .await
    }
}

impl Storage {
    /// Mutes or unmutes a user in a room's chat; repeating either is harmless.
    pub async fn set_muted(&self, room_id: RoomId, user_id: UserId, muted: bool) -> StorageResult<()> {
        use crate::infrastructure::db::schema::live_mutes::dsl as mutes;
        let now = time::to_millis(Utc::now());
        with_write_conn(&self.pool, &self.writers, move |conn| {
            let key = (room_id.to_string(), user_id.to_string());
            let existing = mutes::live_mutes.find(key.clone());
            conn.transaction(|conn| {
                diesel::delete(existing).execute(conn)?;
                if muted {
                    diesel::insert_into(mutes::live_mutes)
                        .values((
                            mutes::room_id.eq(key.0),
                            mutes::user_id.eq(key.1),
                            mutes::created_at.eq(now),
                        ))
                        .execute(conn)?;
                }
                Ok(())
            })
        })
        .await
    }

    pub async fn muted_users(&self, room_id: RoomId) -> StorageResult<Vec<UserId>> {
        use crate::infrastructure::db::schema::live_mutes::dsl as mutes;
        with_conn(&self.pool, move |conn| {
            let ids: Vec<String> = mutes::live_mutes
                .filter(mutes::room_id.eq(room_id.to_string()))
                .select(mutes::user_id)
                .load(conn)?;
            ids.iter().map(|id| parse_id(id)).collect()
        })
        .await
    }
}

/// A room by its key, in a statement SQLite keeps prepared (see [`super::by_key`]).
pub(super) fn room_by_id(conn: &mut DbConnection, id: RoomId) -> StorageResult<Option<RoomRecord>> {
    let row: Option<Row> = rooms::live_rooms
        .find(id.to_string())
        .select(room_columns!())
        .get_result(conn)
        .optional()?;
    row.map(from_row).transpose()
}
