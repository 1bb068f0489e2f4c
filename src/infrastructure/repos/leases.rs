//! `live_room_leases` and `orders_journal_writers`: who owns a room, under which epoch, and what
//! each journal writer last committed. The SQL differs per backend: PostgreSQL takes a lease from
//! a dead or expired owner by the database's own clock and session list; SQLite is held by one
//! process (a file lock), so there a lease is always this process's to take.

use crate::infrastructure::db::schema::live_room_leases::dsl as leases;
use crate::infrastructure::db::schema::orders_journal_writers::dsl as writers;
use crate::infrastructure::db::DbConnection;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{Array, BigInt, Integer, Text};
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

/// The first step of a journal batch, inside its transaction: records the batch as the writer's
/// last (nothing refused yet) and answers each room's epoch now.
///
/// On SQLite a write first takes the write lock at once (waiting its turn), where a read first
/// would make the later writes fail on a busy database instead of waiting; the epochs are then
/// read one room at a time (a batch rarely spans more than a few), so the statement is always
/// the same. On PostgreSQL both are one statement, one round trip of the batch's few, and the
/// lease rows are held `FOR SHARE`, so a takeover waits until the batch has committed and then
/// sees it.
pub fn begin_batch(
    conn: &mut DbConnection,
    writer_id: &str,
    batch_no: i64,
    rooms: &HashSet<RoomId>,
) -> QueryResult<HashMap<RoomId, Epoch>> {
    if matches!(conn, DbConnection::Sqlite(_)) {
        record_batch(conn, writer_id, batch_no, "")?;
    }
    let epochs: Vec<(RoomId, i64)> = match conn {
        DbConnection::Pg(c) => {
            let begin = BeginBatch {
                batch_no,
                writer: writer_id,
                rooms: rooms.iter().map(RoomId::to_string).collect(),
            };
            let rows: Vec<(String, i64)> = begin.load(c)?;
            rows.into_iter()
                .filter_map(|(room, epoch)| Some((room.parse().ok()?, epoch)))
                .collect()
        }
        DbConnection::Sqlite(c) => {
            let mut epochs = Vec::with_capacity(rooms.len());
            for &room in rooms {
                let epoch: Option<i64> = LeaseEpoch {
                    room_id: room.to_string(),
                }
                .get_result(c)
                .optional()?;
                epochs.extend(epoch.map(|epoch| (room, epoch)));
            }
            epochs
        }
    };
    Ok(epochs
        .into_iter()
        .filter_map(|(room, epoch)| Some((room, u64::try_from(epoch).ok()?)))
        .collect())
}

crate::fixed_sql! {
    /// A room's lease epoch (SQLite: one process holds the file, nothing to lock).
    struct LeaseEpoch { room_id: String as Text }
    sql = ["SELECT epoch FROM live_room_leases WHERE room_id = ", ""];
    loads = BigInt;
}

/// PostgreSQL: [`begin_batch`] in one statement. A data-modifying `WITH` runs whether or not
/// the query reads it; the rooms are bound as one array, so the text never changes and the
/// statement is prepared once.
struct BeginBatch<'a> {
    batch_no: i64,
    writer: &'a str,
    rooms: Vec<String>,
}

impl QueryId for BeginBatch<'_> {
    type QueryId = BeginBatch<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryFragment<Pg> for BeginBatch<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH batch AS (UPDATE orders_journal_writers SET last_batch = ");
        out.push_bind_param::<BigInt, _>(&self.batch_no)?;
        out.push_sql(", refused = '' WHERE writer = ");
        out.push_bind_param::<Text, _>(&self.writer)?;
        out.push_sql(") SELECT room_id, epoch FROM live_room_leases WHERE room_id = ANY(");
        out.push_bind_param::<Array<Text>, _>(&self.rooms)?;
        out.push_sql(") FOR SHARE");
        Ok(())
    }
}

impl Query for BeginBatch<'_> {
    type SqlType = (Text, BigInt);
}

impl RunQueryDsl<PgConnection> for BeginBatch<'_> {}

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
