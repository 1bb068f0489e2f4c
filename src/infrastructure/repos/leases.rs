//! `live_room_leases` and `orders_journal_writers`: who owns a room, under which epoch, and what
//! each journal writer last committed. The SQL differs per backend: PostgreSQL takes a lease from
//! a dead or expired owner by the database's own clock and session list; SQLite is held by one
//! process (a file lock), so there a lease is always this process's to take.

use crate::infrastructure::db::schema::live_room_leases::dsl as leases;
use crate::infrastructure::db::schema::orders_journal_writers::dsl as writers;
use crate::infrastructure::db::DbConnection;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{BigInt, Integer, Text};
use livecart_actors::lease::{Acquired, Epoch, Fence};
use livecart_actors::RoomId;
use std::collections::{HashMap, HashSet};

/// A PostgreSQL server session: its process id and start time (a pid alone can be reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, QueryableByName)]
pub struct Session {
    #[diesel(sql_type = Integer)]
    pub pid: i32,
    #[diesel(sql_type = BigInt)]
    pub started: i64,
}

/// The session the connection runs in; `None` on SQLite.
pub fn session_of(conn: &mut DbConnection) -> QueryResult<Option<Session>> {
    match conn {
        DbConnection::Pg(c) => diesel::sql_query(
            "SELECT pg_backend_pid() AS pid, (extract(epoch FROM backend_start) * 1000000)::bigint AS started \
             FROM pg_stat_activity WHERE pid = pg_backend_pid()",
        )
        .get_result(c)
        .map(Some),
        DbConnection::Sqlite(_) => Ok(None),
    }
}

#[derive(QueryableByName)]
struct Gone {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    gone: bool,
}

/// Ends the session and waits (up to 5 s) until it has: `true` once it no longer exists.
pub fn terminate_session(conn: &mut PgConnection, session: Session) -> QueryResult<bool> {
    let found: Option<Gone> = diesel::sql_query(
        "SELECT pg_terminate_backend(pid, 5000) AS gone FROM pg_stat_activity \
         WHERE pid = $1 AND (extract(epoch FROM backend_start) * 1000000)::bigint = $2",
    )
    .bind::<Integer, _>(session.pid)
    .bind::<BigInt, _>(session.started)
    .get_result(conn)
    .optional()?;
    Ok(found.is_none_or(|g| g.gone))
}

/// Makes sure the writer has its row (a new writer starts at batch 0).
pub fn register_writer(conn: &mut DbConnection, writer_id: &str) -> QueryResult<()> {
    let row = (
        writers::writer.eq(writer_id),
        writers::last_batch.eq(0i64),
        writers::refused.eq(""),
    );
    crate::per_backend!(conn, c => diesel::insert_into(writers::orders_journal_writers)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

/// Inside the batch's transaction: this batch is the writer's last, with what it refused.
pub fn record_batch(conn: &mut DbConnection, writer_id: &str, batch_no: i64, refused: &str) -> QueryResult<()> {
    RecordBatch {
        batch_no,
        refused: refused.to_owned(),
        writer: writer_id.to_owned(),
    }
    .execute(conn)?;
    Ok(())
}

crate::fixed_sql! {
    /// The journal's every batch: see `db::fixed_sql`.
    struct RecordBatch { batch_no: i64 as BigInt, refused: String as Text, writer: String as Text }
    sql = ["UPDATE orders_journal_writers SET last_batch = ", ", refused = ", " WHERE writer = ", ""];
}

/// The writer's last committed batch and what it refused.
pub fn writer_position(conn: &mut DbConnection, writer_id: &str) -> QueryResult<(i64, String)> {
    writers::orders_journal_writers
        .find(writer_id)
        .select((writers::last_batch, writers::refused))
        .first(conn)
}

/// Inside the batch's transaction: each room's epoch now. PostgreSQL holds the rows with
/// `FOR SHARE`, so a takeover waits until the batch has committed and then sees it.
/// One room at a time (a batch rarely spans more than a few), so the statement is always the same.
pub fn current_epochs(conn: &mut DbConnection, rooms: &HashSet<RoomId>) -> QueryResult<HashMap<RoomId, Epoch>> {
    let mut epochs = HashMap::with_capacity(rooms.len());
    for &room in rooms {
        let room_id = room.to_string();
        let epoch: Option<i64> = match conn {
            DbConnection::Pg(c) => HeldLeaseEpoch { room_id }.get_result(c).optional()?,
            DbConnection::Sqlite(c) => LeaseEpoch { room_id }.get_result(c).optional()?,
        };
        if let Some(epoch) = epoch.and_then(|e| u64::try_from(e).ok()) {
            epochs.insert(room, epoch);
        }
    }
    Ok(epochs)
}

crate::fixed_sql! {
    /// A room's lease epoch (SQLite: one process holds the file, nothing to lock).
    struct LeaseEpoch { room_id: String as Text }
    sql = ["SELECT epoch FROM live_room_leases WHERE room_id = ", ""];
    loads = BigInt;
}

crate::fixed_sql! {
    /// A room's lease epoch, the row held until the batch commits.
    struct HeldLeaseEpoch { room_id: String as Text }
    sql = ["SELECT epoch FROM live_room_leases WHERE room_id = ", " FOR SHARE"];
    loads = BigInt;
}

#[derive(QueryableByName)]
struct Held {
    #[diesel(sql_type = Text)]
    room_id: String,
    #[diesel(sql_type = BigInt)]
    epoch: i64,
}

#[derive(QueryableByName)]
struct EpochRow {
    #[diesel(sql_type = BigInt)]
    epoch: i64,
}

/// The lease session's identity and the database's clock, for PostgreSQL's lease statements.
const PG_ME: &str = "WITH me AS (SELECT pg_backend_pid() AS pid, \
     (extract(epoch FROM backend_start) * 1000000)::bigint AS started, \
     (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now_ms \
     FROM pg_stat_activity WHERE pid = pg_backend_pid())";

/// Takes the room for `owner` with a new epoch: always on SQLite (one process holds the file);
/// on PostgreSQL when the lease is this owner's, has expired by the database's clock, or its
/// owner's session is gone (that node died). `ttl_ms` is how long the lease lasts unrenewed.
pub fn acquire(conn: &mut DbConnection, room_id: RoomId, owner: &str, ttl_ms: i64) -> QueryResult<Acquired> {
    let taken: QueryResult<Option<EpochRow>> = match conn {
        DbConnection::Pg(c) => diesel::sql_query(format!(
            "{PG_ME} INSERT INTO live_room_leases (room_id, owner, epoch, expires_at, owner_pid, owner_started) \
             SELECT $1, $2, 1, me.now_ms + $3, me.pid, me.started FROM me \
             ON CONFLICT (room_id) DO UPDATE SET owner = EXCLUDED.owner, epoch = live_room_leases.epoch + 1, \
               expires_at = EXCLUDED.expires_at, owner_pid = EXCLUDED.owner_pid, owner_started = EXCLUDED.owner_started \
             WHERE live_room_leases.owner = EXCLUDED.owner \
               OR live_room_leases.expires_at < EXCLUDED.expires_at - $3 \
               OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = live_room_leases.owner_pid \
                 AND (a.backend_start IS NULL \
                   OR (extract(epoch FROM a.backend_start) * 1000000)::bigint = live_room_leases.owner_started)) \
             RETURNING epoch"
        ))
        .bind::<Text, _>(room_id.to_string())
        .bind::<Text, _>(owner)
        .bind::<BigInt, _>(ttl_ms)
        .get_result(c)
        .optional(),
        DbConnection::Sqlite(c) => diesel::sql_query(
            "INSERT INTO live_room_leases (room_id, owner, epoch, expires_at) \
             VALUES (?, ?, 1, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) + ?) \
             ON CONFLICT (room_id) DO UPDATE SET owner = excluded.owner, epoch = live_room_leases.epoch + 1, \
               expires_at = excluded.expires_at \
             RETURNING epoch",
        )
        .bind::<Text, _>(room_id.to_string())
        .bind::<Text, _>(owner)
        .bind::<BigInt, _>(ttl_ms)
        .get_result(c)
        .optional(),
    };
    match taken {
        Ok(Some(row)) => Ok(Acquired::Taken(u64::try_from(row.epoch).unwrap_or(0))),
        Ok(None) => Ok(Acquired::HeldElsewhere),
        Err(DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _)) => Ok(Acquired::NoSuchRoom),
        Err(err) => Err(err),
    }
}

/// Extends every lease `owner` holds; returns the fences of `held` that it no longer holds at
/// that epoch.
pub fn renew(conn: &mut DbConnection, owner: &str, ttl_ms: i64, held: &[Fence]) -> QueryResult<Vec<Fence>> {
    let rows: Vec<Held> = match conn {
        DbConnection::Pg(c) => diesel::sql_query(format!(
            "{PG_ME} UPDATE live_room_leases l SET expires_at = me.now_ms + $2, owner_pid = me.pid, \
               owner_started = me.started FROM me WHERE l.owner = $1 RETURNING l.room_id, l.epoch"
        ))
        .bind::<Text, _>(owner)
        .bind::<BigInt, _>(ttl_ms)
        .load(c)?,
        DbConnection::Sqlite(c) => diesel::sql_query(
            "UPDATE live_room_leases SET expires_at = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) + ? \
             WHERE owner = ? RETURNING room_id, epoch",
        )
        .bind::<BigInt, _>(ttl_ms)
        .bind::<Text, _>(owner)
        .load(c)?,
    };
    let still: HashSet<(String, i64)> = rows.into_iter().map(|r| (r.room_id, r.epoch)).collect();
    Ok(held
        .iter()
        .filter(|f| !still.contains(&(f.room_id.to_string(), f.epoch as i64)))
        .copied()
        .collect())
}

/// Gives the rooms back: another node may take them at once.
pub fn release(conn: &mut DbConnection, owner: &str, held: &[Fence]) -> QueryResult<()> {
    for fence in held {
        diesel::update(
            leases::live_room_leases.filter(
                leases::room_id
                    .eq(fence.room_id.to_string())
                    .and(leases::owner.eq(owner))
                    .and(leases::epoch.eq(fence.epoch as i64)),
            ),
        )
        .set((leases::owner.eq(""), leases::expires_at.eq(0i64)))
        .execute(conn)?;
    }
    Ok(())
}
