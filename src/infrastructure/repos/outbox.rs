//! `outbox_events`: events committed with the change they report, published later by the relay,
//! which keeps its position in `outbox_cursor`.

use super::unnest_inserts::{EventColumns, InsertEvents, PositionColumns};
use super::{catalog, Storage};
use crate::in_fixed_chunks;
use crate::infrastructure::db::schema::outbox_events::dsl as outbox;
use crate::infrastructure::db::{time, with_conn, with_write_conn, DbConnection, StorageError, StorageResult};
use diesel::prelude::*;
use livecart_actors::events::DomainEvent;
use livecart_actors::ListingId;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};

/// `treat_none_as_default_value = false`: otherwise diesel wraps every column as one that may
/// take its default, which SQLite's `VALUES` cannot say, and runs a batch as one `INSERT` per row
/// inside a savepoint (a quarter of the journal writer's CPU in a flash sale, when it did).
#[derive(Insertable)]
#[diesel(table_name = crate::infrastructure::db::schema::outbox_events)]
#[diesel(treat_none_as_default_value = false)]
struct NewEvent {
    id: String,
    kind: &'static str,
    payload: String,
    created_at: i64,
}

/// An event waiting for the relay, in commit order.
#[derive(Debug, Clone)]
pub struct PendingEvent {
    pub seq: i64,
    pub event: DomainEvent,
}

/// The key of the advisory lock every PostgreSQL transaction that appends events holds until it
/// commits ("outbox" in ASCII).
const OUTBOX_LOCK: i64 = 0x6f75_7462_6f78;

/// Adds events inside the caller's transaction, so they commit or vanish with its change, and
/// returns their sequence numbers, in order.
///
/// The relay reads events by position (`seq` above the last it published), so seq order must be
/// commit order. On SQLite it is: one transaction writes at a time. On PostgreSQL a sequence
/// number is taken at insert, and two transactions could commit out of that order; so the
/// transaction first takes the outbox's advisory lock, which it holds until it ends, and
/// appenders commit one after the other. Only the journal (once per batch) and room status
/// changes append, so the lock is rarely waited for.
pub fn append(conn: &mut DbConnection, events: &[&DomainEvent]) -> QueryResult<Vec<i64>> {
    append_advancing(conn, events, &HashMap::new())
}

/// [`append`], and moves each listing's journal position on by the entries of it the batch
/// wrote (`catalog_listings.journal_position`): the journal's last statements of a batch. On
/// PostgreSQL both are one statement, a round trip fewer per batch; the positions move only
/// once the outbox's lock is held, as when they were a statement of their own after it.
pub fn append_advancing(
    conn: &mut DbConnection,
    events: &[&DomainEvent],
    advance: &HashMap<ListingId, u32>,
) -> QueryResult<Vec<i64>> {
    // PostgreSQL moves them in the events' statement below; otherwise one statement each.
    let in_one_statement = matches!(conn, DbConnection::Pg(_)) && !events.is_empty();
    if !in_one_statement {
        for (&listing_id, &entries) in advance {
            catalog::advance_position(conn, listing_id, entries)?;
        }
    }
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<NewEvent> = events
        .iter()
        .map(|e| NewEvent {
            id: e.id.to_string(),
            kind: e.kind(),
            // unwrap: a DomainEvent is plain data (ids, numbers, strings) and always serializes.
            payload: serde_json::to_string(e).unwrap(),
            created_at: time::to_millis(e.at),
        })
        .collect();
    let count = rows.len();
    // On SQLite `OR IGNORE`: a plain multi-row insert may abort on its NOT NULL columns, so
    // SQLite keeps a statement journal (a copy of every page the statement touches) for it. No
    // row can be ignored (the sequence is the rowid, and no column is ever null), and the count
    // says so: a short one fails the batch.
    let seqs: Vec<Vec<i64>> = match conn {
        DbConnection::Sqlite(c) => in_fixed_chunks!(rows.as_slice(), |chunk| {
            diesel::insert_or_ignore_into(outbox::outbox_events)
                .values(chunk)
                .returning(outbox::seq)
                .get_results(c)
        }),
        DbConnection::Pg(c) => {
            // One statement over arrays (see `unnest_inserts`), which takes the lock first.
            let mut columns = EventColumns::default();
            for row in rows {
                columns.id.push(row.id);
                columns.kind.push(row.kind);
                columns.payload.push(row.payload);
                columns.created_at.push(row.created_at);
            }
            let positions = PositionColumns {
                listing_id: advance.keys().map(ListingId::to_string).collect(),
                by: advance.values().map(|&entries| i64::from(entries)).collect(),
            };
            InsertEvents {
                columns: &columns,
                lock: OUTBOX_LOCK,
                positions: &positions,
            }
            .get_results(c)
            .map(|seqs| vec![seqs])
        }
    }?;
    // A statement inserts its rows in the order listed, each taking the next number, but RETURNING
    // promises no order: sorted, a chunk's numbers are its rows' in order.
    let seqs: Vec<i64> = seqs
        .into_iter()
        .flat_map(|mut chunk| {
            chunk.sort_unstable();
            chunk
        })
        .collect();
    if seqs.len() != count {
        let why = format!("{} of {count} outbox events inserted", seqs.len());
        return Err(diesel::result::Error::QueryBuilderError(why.into()));
    }
    Ok(seqs)
}

/// How far the relay has published, and how far that is saved in `outbox_cursor`; shared by the
/// relay, which publishes, and the journal, which saves the position in its next batch.
///
/// During a sale the journal commits dozens of times a second and the relay follows each
/// commit. Saving the position in a transaction of its own was a commit on another connection,
/// and on SQLite any commit by another connection makes the journal's connection drop its whole
/// page cache and read its pages back (the buyers' key index is touched at a random page per
/// order). Written by the journal it costs one row in a batch that commits anyway. The relay
/// saves it itself only while the journal is quiet.
#[derive(Debug, Default)]
pub struct RelayPosition {
    published: AtomicI64,
    saved: AtomicI64,
}

impl RelayPosition {
    /// Every event up to `seq` is published (by the relay, once the bus took them).
    pub fn publish(&self, seq: i64) {
        self.published.fetch_max(seq, Ordering::Release);
    }

    /// Every event up to this seq is published (0: none by this process yet).
    pub fn published(&self) -> i64 {
        self.published.load(Ordering::Acquire)
    }

    /// The position last saved by this process.
    pub fn last_saved(&self) -> i64 {
        self.saved.load(Ordering::Acquire)
    }

    /// The position to save, if it moved since it was last saved.
    pub fn unsaved(&self) -> Option<i64> {
        let published = self.published.load(Ordering::Acquire);
        (published > self.saved.load(Ordering::Acquire)).then_some(published)
    }

    /// `seq` is saved (its transaction committed).
    pub fn saved(&self, seq: i64) {
        self.saved.fetch_max(seq, Ordering::Release);
    }
}

/// Saves `position` inside the caller's transaction when it moved; returns what to mark saved
/// once that transaction has committed.
pub fn save_position(conn: &mut DbConnection, position: &RelayPosition) -> QueryResult<Option<i64>> {
    match position.unsaved() {
        Some(seq) => {
            save_published(conn, seq)?;
            Ok(Some(seq))
        }
        None => Ok(None),
    }
}

impl Storage {
    /// The oldest events after `after` and after the saved position, up to
    /// [`UNPUBLISHED_BATCH`], in commit order. `after` is the relay's own position, which runs
    /// ahead of the saved one between saves; the saved one may run ahead of it when another
    /// node's relay published further.
    pub async fn unpublished_events(&self, after: i64) -> StorageResult<Vec<PendingEvent>> {
        with_conn(&self.pool, move |conn| {
            let read = Unpublished { after };
            let rows: Vec<(i64, String)> = match &mut **conn {
                DbConnection::Sqlite(c) => read.load(c)?,
                DbConnection::Pg(c) => read.load(c)?,
            };
            rows.into_iter()
                .map(|(seq, payload)| {
                    let event = serde_json::from_str(&payload)
                        .map_err(|e| StorageError::Corrupt(format!("outbox event {seq}: {e}")))?;
                    Ok(PendingEvent { seq, event })
                })
                .collect()
        })
        .await
    }

    /// Saves the relay's position: every event up to `seq` has been published. It never moves
    /// back (another node's relay may have saved a later one).
    pub async fn save_published(&self, seq: i64) -> StorageResult<()> {
        with_write_conn(&self.pool, &self.writers, move |conn| {
            save_published(conn, seq)?;
            Ok(())
        })
        .await
    }
}

/// [`Storage::save_published`] on a connection.
fn save_published(conn: &mut DbConnection, seq: i64) -> QueryResult<usize> {
    SavePublished { seq, below: seq }.execute(conn)
}

crate::fixed_sql! {
    /// In the journal's batches: see `db::fixed_sql`.
    struct SavePublished { seq: i64 as BigInt, below: i64 as BigInt }
    sql = ["UPDATE outbox_cursor SET published_seq = ", " WHERE id = 1 AND published_seq < ", ""];
}

/// How many events the relay reads at a time: large, because on SQLite each batch's writes wait
/// for the journal's turn, so fewer, bigger batches keep the relay level with a flash sale.
pub const UNPUBLISHED_BATCH: usize = 2_000;

crate::fixed_sql! {
    /// The relay's read, with its limit written into the SQL. diesel binds a `.limit(n)` as a
    /// parameter, and SQLite (3.47 on) reads a bound LIMIT while planning, so it marks the
    /// statement to be prepared again whenever that parameter is bound: diesel binds on every
    /// execution, so the relay's cached read was parsed and planned anew on every batch
    /// (`sqlite3Reprepare` in a flash sale's profile).
    struct Unpublished { after: i64 as BigInt }
    sql = [
        "SELECT seq, payload FROM outbox_events WHERE seq > ",
        " AND seq > (SELECT published_seq FROM outbox_cursor WHERE id = 1) ORDER BY seq LIMIT 2000",
    ];
    loads = (diesel::sql_types::BigInt, diesel::sql_types::Text);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infrastructure::db::{migrate, statements_sent};
    use diesel::sqlite::SqliteConnection;
    use livecart_actors::events::EventPayload;
    use livecart_actors::ids::new_id;

    fn migrated() -> DbConnection {
        let mut conn = DbConnection::Sqlite(SqliteConnection::establish(":memory:").expect("an in-memory database"));
        migrate::run_pending(&mut conn).expect("migrated");
        conn
    }

    fn append_started(conn: &mut DbConnection, n: usize) -> Vec<i64> {
        let events: Vec<DomainEvent> = (0..n)
            .map(|_| DomainEvent::new(chrono::Utc::now(), EventPayload::LiveStarted { room_id: new_id() }))
            .collect();
        let returned = append(conn, &events.iter().collect::<Vec<_>>()).expect("appended");
        let stored: Vec<(i64, String)> = outbox::outbox_events
            .order(outbox::seq.asc())
            .select((outbox::seq, outbox::id))
            .load(conn)
            .expect("seqs");
        let ids: Vec<String> = events.iter().map(|e| e.id.to_string()).collect();
        assert_eq!(
            stored.iter().map(|(_, id)| id.clone()).collect::<Vec<_>>()[stored.len() - n..],
            ids,
            "stored in the order given"
        );
        let seqs: Vec<i64> = stored.into_iter().map(|(seq, _)| seq).collect();
        assert_eq!(
            returned,
            seqs[seqs.len() - n..],
            "append returns each event's number, in order"
        );
        seqs
    }

    fn read_after(conn: &mut DbConnection, after: i64) -> Vec<i64> {
        let DbConnection::Sqlite(c) = conn else {
            unreachable!("an SQLite connection")
        };
        let read: Vec<(i64, String)> = Unpublished { after }.load(c).expect("read");
        read.into_iter().map(|(seq, _)| seq).collect()
    }

    #[test]
    fn the_relay_reads_after_its_own_position_and_after_the_saved_one() {
        let mut conn = migrated();
        let seqs = append_started(&mut conn, 6);
        assert_eq!(
            read_after(&mut conn, 0),
            seqs,
            "nothing published yet: every event, in order"
        );
        assert_eq!(
            read_after(&mut conn, seqs[3]),
            seqs[4..],
            "after the relay's own position"
        );
        assert_eq!(save_published(&mut conn, seqs[2]).expect("saved"), 1);
        assert_eq!(
            read_after(&mut conn, 0),
            seqs[3..],
            "after the saved position (another relay's)"
        );
        assert_eq!(read_after(&mut conn, seqs[4]), seqs[5..], "after whichever is later");
        assert_eq!(
            save_published(&mut conn, seqs[1]).expect("saved"),
            0,
            "a position never moves back"
        );
        assert_eq!(read_after(&mut conn, 0), seqs[3..]);
        assert_eq!(save_published(&mut conn, seqs[5]).expect("saved"), 1);
        assert!(read_after(&mut conn, 0).is_empty(), "everything published");
    }

    #[test]
    fn a_published_position_is_saved_in_a_transaction_once_and_never_moves_back() {
        let mut conn = migrated();
        let seqs = append_started(&mut conn, 4);
        let position = RelayPosition::default();
        assert_eq!(save_position(&mut conn, &position).expect("nothing to save"), None);
        position.publish(seqs[2]);
        let saved = conn.transaction(|conn| save_position(conn, &position)).expect("saved");
        assert_eq!(saved, Some(seqs[2]));
        position.saved(seqs[2]);
        assert_eq!(read_after(&mut conn, 0), seqs[3..], "the saved position holds");
        assert_eq!(save_position(&mut conn, &position).expect("saved"), None, "saved once");
        position.publish(seqs[1]);
        assert_eq!(position.published(), seqs[2], "a position never moves back");
        assert_eq!(position.unsaved(), None);
    }

    #[test]
    fn a_batch_of_events_is_one_insert_per_chunk_not_one_per_event() {
        let mut conn = migrated();
        // 32 + 16 + 2 + 1: one statement for each of the fixed chunks.
        let (seqs, sent) = statements_sent(&mut conn, |conn| append_started(conn, 51));
        let inserts: Vec<&String> = sent.iter().filter(|sql| sql.starts_with("INSERT")).collect();
        assert_eq!(inserts.len(), 4, "{inserts:#?}");
        assert!(
            !sent.iter().any(|sql| sql.starts_with("SAVEPOINT")),
            "no transaction of its own: {sent:#?}"
        );
        assert_eq!(seqs.len(), 51);
    }

    #[test]
    fn the_relay_read_limits_to_its_batch() {
        let sql = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&Unpublished { after: 0 }).to_string();
        assert!(sql.contains(&format!(" LIMIT {UNPUBLISHED_BATCH}")), "{sql}");
        let mut conn = migrated();
        let seqs = append_started(&mut conn, UNPUBLISHED_BATCH + 3);
        let read = read_after(&mut conn, 0);
        assert_eq!(read, seqs[..UNPUBLISHED_BATCH], "the oldest batch, in commit order");
    }
}
