//! `outbox_batches`: events committed with the change they report, published later by the relay,
//! which keeps its position in `outbox_cursor`. Each transaction that appends events writes one
//! row holding all of them, as a JSON array in commit order: a journal batch of a flash sale
//! writes one row where it wrote one per order (a heap tuple, a key and its share of the log
//! each, on both backends).

use super::unnest_inserts::{InsertEvents, PositionColumns};
use super::{catalog, Storage};
use crate::infrastructure::db::schema::outbox_batches::dsl as outbox;
use crate::infrastructure::db::{time, with_conn, with_write_conn, DbConnection, StorageError, StorageResult};
use diesel::prelude::*;
use livecart_actors::events::DomainEvent;
use livecart_actors::ListingId;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};

#[derive(Insertable)]
#[diesel(table_name = crate::infrastructure::db::schema::outbox_batches)]
struct NewRow {
    events: String,
    created_at: i64,
}

/// The events one transaction appended, in commit order, under the one sequence number of their
/// row: the relay publishes a row's events together and then moves its position past the row.
#[derive(Debug, Clone, PartialEq)]
pub struct AppendedEvents {
    pub seq: i64,
    pub events: Vec<DomainEvent>,
}

/// The key of the advisory lock every PostgreSQL transaction that appends events holds until it
/// commits ("outbox" in ASCII).
const OUTBOX_LOCK: i64 = 0x6f75_7462_6f78;

/// Adds events inside the caller's transaction, so they commit or vanish with its change, as one
/// row; returns the row's sequence number (none when there are no events: no row is written).
///
/// The relay reads rows by position (`seq` above the last it published), so seq order must be
/// commit order. On SQLite it is: one transaction writes at a time. On PostgreSQL a sequence
/// number is taken at insert, and two transactions could commit out of that order; so the
/// transaction first takes the outbox's advisory lock, which it holds until it ends, and
/// appenders commit one after the other. Only the journal (once per batch) and room status
/// changes append, so the lock is rarely waited for.
pub fn append(conn: &mut DbConnection, events: &[&DomainEvent]) -> QueryResult<Option<i64>> {
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
) -> QueryResult<Option<i64>> {
    // PostgreSQL moves them in the events' statement below; otherwise one statement each.
    let in_one_statement = matches!(conn, DbConnection::Pg(_)) && !events.is_empty();
    if !in_one_statement {
        for (&listing_id, &entries) in advance {
            catalog::advance_position(conn, listing_id, entries)?;
        }
    }
    let Some(first) = events.first() else {
        return Ok(None);
    };
    let row = NewRow {
        // unwrap: a DomainEvent is plain data (ids, numbers, strings) and always serializes.
        events: serde_json::to_string(events).unwrap(),
        created_at: time::to_millis(first.at),
    };
    let seq = match conn {
        // `OR IGNORE`: a plain insert may abort on its NOT NULL columns, so SQLite keeps a
        // statement journal (a copy of every page the statement touches) for it. No row can be
        // ignored (the sequence is the rowid, and no column is ever null); if one were, no
        // number comes back and the batch fails.
        DbConnection::Sqlite(c) => diesel::insert_or_ignore_into(outbox::outbox_batches)
            .values(&row)
            .returning(outbox::seq)
            .get_result(c)?,
        DbConnection::Pg(c) => {
            let positions = PositionColumns {
                listing_id: advance.keys().map(ListingId::to_string).collect(),
                by: advance.values().map(|&entries| i64::from(entries)).collect(),
            };
            InsertEvents {
                events: &row.events,
                created_at: row.created_at,
                lock: OUTBOX_LOCK,
                positions: &positions,
            }
            .get_result(c)?
        }
    };
    Ok(Some(seq))
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
    /// The oldest rows of events after `after` and after the saved position, up to
    /// [`UNPUBLISHED_ROWS`], in commit order. `after` is the relay's own position, which runs
    /// ahead of the saved one between saves; the saved one may run ahead of it when another
    /// node's relay published further.
    pub async fn unpublished_events(&self, after: i64) -> StorageResult<Vec<AppendedEvents>> {
        with_conn(&self.pool, move |conn| {
            let read = Unpublished { after };
            let rows: Vec<(i64, String)> = match &mut **conn {
                DbConnection::Sqlite(c) => read.load(c)?,
                DbConnection::Pg(c) => read.load(c)?,
            };
            rows.into_iter()
                .map(|(seq, events)| {
                    let events = serde_json::from_str(&events)
                        .map_err(|e| StorageError::Corrupt(format!("outbox row {seq}: {e}")))?;
                    Ok(AppendedEvents { seq, events })
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

/// How many events the relay publishes at a time, at most (whole rows; a row larger than this
/// goes alone): large, because on SQLite each round's position waits for the journal's turn, so
/// fewer, bigger rounds keep the relay level with a flash sale.
pub const UNPUBLISHED_BATCH: usize = 2_000;

/// How many rows the relay reads from the table at a time: a journal batch's row holds its
/// entries' events (a flash sale's batches hold 20 to 30), so this reads about
/// [`UNPUBLISHED_BATCH`] events when it catches up after a restart.
pub const UNPUBLISHED_ROWS: usize = 100;

crate::fixed_sql! {
    /// The relay's read, with its limit written into the SQL. diesel binds a `.limit(n)` as a
    /// parameter, and SQLite (3.47 on) reads a bound LIMIT while planning, so it marks the
    /// statement to be prepared again whenever that parameter is bound: diesel binds on every
    /// execution, so the relay's cached read was parsed and planned anew on every batch
    /// (`sqlite3Reprepare` in a flash sale's profile).
    struct Unpublished { after: i64 as BigInt }
    sql = [
        "SELECT seq, events FROM outbox_batches WHERE seq > ",
        " AND seq > (SELECT published_seq FROM outbox_cursor WHERE id = 1) ORDER BY seq LIMIT 100",
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

    fn started(n: usize) -> Vec<DomainEvent> {
        (0..n)
            .map(|_| DomainEvent::new(chrono::Utc::now(), EventPayload::LiveStarted { room_id: new_id() }))
            .collect()
    }

    /// Appends `n` rows of one event each; returns their numbers, in order.
    fn append_started(conn: &mut DbConnection, n: usize) -> Vec<i64> {
        let seqs: Vec<i64> = (0..n)
            .map(|_| {
                let events = started(1);
                append(conn, &[&events[0]]).expect("appended").expect("a row")
            })
            .collect();
        let stored: Vec<i64> = outbox::outbox_batches
            .order(outbox::seq.asc())
            .select(outbox::seq)
            .load(conn)
            .expect("seqs");
        assert_eq!(
            seqs,
            stored[stored.len() - n..],
            "append returns each row's number, in order"
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
    fn a_transactions_events_are_one_row_in_the_order_given_in_one_insert() {
        let mut conn = migrated();
        let events = started(51);
        let given: Vec<&DomainEvent> = events.iter().collect();
        let (seq, sent) = statements_sent(&mut conn, |conn| append(conn, &given));
        let seq = seq.expect("appended").expect("a row");
        let inserts: Vec<&String> = sent.iter().filter(|sql| sql.starts_with("INSERT")).collect();
        assert_eq!(inserts.len(), 1, "{inserts:#?}");
        assert!(
            !sent.iter().any(|sql| sql.starts_with("SAVEPOINT")),
            "no transaction of its own: {sent:#?}"
        );
        let DbConnection::Sqlite(c) = &mut conn else {
            unreachable!("an SQLite connection")
        };
        let read: Vec<(i64, String)> = Unpublished { after: 0 }.load(c).expect("read");
        assert_eq!(read.len(), 1, "one row");
        assert_eq!(read[0].0, seq);
        let stored: Vec<DomainEvent> = serde_json::from_str(&read[0].1).expect("a JSON array of events");
        assert_eq!(stored, events, "every event, in the order given");
    }

    #[test]
    fn no_events_write_no_row() {
        let mut conn = migrated();
        let (seq, sent) = statements_sent(&mut conn, |conn| append(conn, &[]));
        assert_eq!(seq.expect("nothing to append"), None);
        assert!(sent.is_empty(), "{sent:#?}");
        assert!(read_after(&mut conn, 0).is_empty());
    }

    #[test]
    fn the_relay_read_limits_to_its_rows() {
        let sql = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&Unpublished { after: 0 }).to_string();
        assert!(sql.contains(&format!(" LIMIT {UNPUBLISHED_ROWS}")), "{sql}");
        let mut conn = migrated();
        let seqs = append_started(&mut conn, UNPUBLISHED_ROWS + 3);
        let read = read_after(&mut conn, 0);
        assert_eq!(read, seqs[..UNPUBLISHED_ROWS], "the oldest rows, in commit order");
    }

    /// `(seq, id, kind, payload)` of each event, as stored one row per event before the outbox
    /// held a row per transaction.
    fn events_one_per_row(conn: &mut DbConnection) -> Vec<(i64, String, String, String)> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            seq: i64,
            #[diesel(sql_type = diesel::sql_types::Text)]
            id: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            kind: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            payload: String,
        }
        let rows: Vec<Row> = diesel::sql_query("SELECT seq, id, kind, payload FROM outbox_events ORDER BY seq")
            .load(conn)
            .expect("the events");
        rows.into_iter().map(|r| (r.seq, r.id, r.kind, r.payload)).collect()
    }

    fn cursor(conn: &mut DbConnection) -> i64 {
        use crate::infrastructure::db::schema::outbox_cursor::dsl::*;
        outbox_cursor
            .select(published_seq)
            .get_result(conn)
            .expect("the cursor")
    }

    #[test]
    fn events_stored_one_per_row_keep_their_numbers_as_rows_of_one_and_go_back_so() {
        let mut conn = migrated();
        let DbConnection::Sqlite(c) = &mut conn else {
            unreachable!("an SQLite connection")
        };
        migrate::revert_sqlite_to_before(c, "2026-12-02-100000");
        let old = started(3);
        for event in &old {
            diesel::sql_query("INSERT INTO outbox_events (id, kind, payload, created_at) VALUES (?, ?, ?, 0)")
                .bind::<diesel::sql_types::Text, _>(event.id.to_string())
                .bind::<diesel::sql_types::Text, _>(event.kind())
                .bind::<diesel::sql_types::Text, _>(serde_json::to_string(event).expect("json"))
                .execute(&mut conn)
                .expect("an event of the old kind");
        }
        save_published(&mut conn, 2).expect("two published");
        let before = events_one_per_row(&mut conn);
        migrate::run_pending(&mut conn).expect("migrated again");

        assert_eq!(cursor(&mut conn), 2, "the cursor still counts the same rows");
        let DbConnection::Sqlite(c) = &mut conn else {
            unreachable!("an SQLite connection")
        };
        let rows: Vec<(i64, String)> = Unpublished { after: 0 }.load(c).expect("read");
        assert_eq!(rows.len(), 1, "only the third is unpublished");
        assert_eq!(rows[0].0, 3);
        let third: Vec<DomainEvent> = serde_json::from_str(&rows[0].1).expect("a JSON array");
        assert_eq!(third, old[2..], "a row of one");

        let new = started(2);
        let seq = append(&mut conn, &[&new[0], &new[1]])
            .expect("appended")
            .expect("a row");
        assert_eq!(seq, 4, "numbered after the old rows");

        // Back down: every event a row again, in order, and the cursor past the same events.
        let DbConnection::Sqlite(c) = &mut conn else {
            unreachable!("an SQLite connection")
        };
        migrate::revert_sqlite_to_before(c, "2026-12-02-100000");
        let after = events_one_per_row(&mut conn);
        assert_eq!(after[..3], before[..], "the old events as they were");
        let ids: Vec<String> = after[3..].iter().map(|(_, id, _, _)| id.clone()).collect();
        assert_eq!(ids, vec![new[0].id.to_string(), new[1].id.to_string()]);
        assert!(after[3..].iter().all(|(_, _, kind, _)| kind == "live.started"));
        assert_eq!(cursor(&mut conn), 2);
    }
}
