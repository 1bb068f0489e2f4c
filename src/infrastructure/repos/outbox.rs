//! `outbox_events`: events committed with the change they report, published later by the relay.

use super::Storage;
use crate::in_fixed_chunks;
use crate::infrastructure::db::schema::outbox_events::dsl as outbox;
use crate::infrastructure::db::{time, with_conn, with_write_conn, DbConnection, StorageError, StorageResult};
use diesel::prelude::*;
use livecart_actors::events::DomainEvent;

#[derive(Insertable)]
#[diesel(table_name = crate::infrastructure::db::schema::outbox_events)]
#[diesel(treat_none_as_default_value = false)]
struct NewEvent {
    id: String,
    kind: &'static str,
    payload: String,
    created_at: i64,
    published_at: Option<i64>,
}

/// An event waiting for the relay, in commit order.
#[derive(Debug, Clone)]
pub struct PendingEvent {
    pub seq: i64,
    pub event: DomainEvent,
}

/// Adds events inside the caller's transaction, so they commit or vanish with its change.
pub fn append(conn: &mut DbConnection, events: &[&DomainEvent]) -> QueryResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let rows: Vec<NewEvent> = events
        .iter()
        .map(|e| NewEvent {
            id: e.id.to_string(),
            kind: e.kind(),
            // unwrap: a DomainEvent is plain data (ids, numbers, strings) and always serializes.
            payload: serde_json::to_string(e).unwrap(),
            created_at: time::to_millis(e.at),
            published_at: None,
        })
        .collect();
    // On SQLite `OR IGNORE`: a plain multi-row insert may abort on its NOT NULL columns, so
    // SQLite keeps a statement journal (a copy of every page the statement touches) for it. No
    // row can be ignored (the sequence is the rowid, and no column is ever null), and the count
    // says so: a short one fails the batch.
    let inserted: Vec<usize> = match conn {
        DbConnection::Sqlite(c) => in_fixed_chunks!(rows.as_slice(), |chunk| {
            diesel::insert_or_ignore_into(outbox::outbox_events)
                .values(chunk)
                .execute(c)
        }),
        DbConnection::Pg(c) => in_fixed_chunks!(rows.as_slice(), |chunk| {
            diesel::insert_into(outbox::outbox_events).values(chunk).execute(c)
        }),
    }?;
    let inserted: usize = inserted.iter().sum();
    if inserted != rows.len() {
        let why = format!("{inserted} of {} outbox events inserted", rows.len());
        return Err(diesel::result::Error::QueryBuilderError(why.into()));
    }
    Ok(())
}

impl Storage {
    /// The oldest unpublished events, up to [`UNPUBLISHED_BATCH`], in commit order.
    pub async fn unpublished_events(&self) -> StorageResult<Vec<PendingEvent>> {
        with_conn(&self.pool, move |conn| {
            let rows: Vec<(i64, String)> = match &mut **conn {
                DbConnection::Sqlite(c) => Unpublished.load(c)?,
                DbConnection::Pg(c) => Unpublished.load(c)?,
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

    /// Marks these events published: one `seq BETWEEN first AND last` per run of consecutive
    /// sequence numbers. A run holds every seq from its first to its last, and sequence numbers
    /// are unique, so the range names exactly the rows read and no other (not even one committed
    /// since with a seq in a gap: gaps end runs). The relay reads in seq order, so a batch is
    /// usually one run (a PostgreSQL sequence leaves gaps where a transaction rolled back). Runs
    /// are marked one statement each, with no transaction around them: a batch left partly
    /// marked is delivered again in part, which at-least-once delivery allows.
    pub async fn mark_published(&self, seqs: Vec<i64>) -> StorageResult<()> {
        if seqs.is_empty() {
            return Ok(());
        }
        let now = time::to_millis(chrono::Utc::now());
        with_write_conn(&self.pool, &self.writers, move |conn| {
            Ok(mark_published(conn, seqs, now)?)
        })
        .await
    }
}

/// [`Storage::mark_published`] on a connection.
fn mark_published(conn: &mut DbConnection, seqs: Vec<i64>, now: i64) -> QueryResult<()> {
    for (first, last) in consecutive_runs(seqs) {
        let mark = MarkRange { now, first, last };
        match conn {
            DbConnection::Sqlite(c) => mark.execute(c)?,
            DbConnection::Pg(c) => mark.execute(c)?,
        };
    }
    Ok(())
}

/// `UPDATE outbox_events SET published_at = $1 WHERE seq BETWEEN $2 AND $3`, written out because
/// diesel never caches the statement of its own `update(…)` (a changeset may leave columns out),
/// so the relay prepared it, parsed and planned, on every batch; this one has a static query id
/// and is prepared once per connection.
#[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
struct MarkRange {
    now: i64,
    first: i64,
    last: i64,
}

impl<DB> diesel::query_builder::QueryFragment<DB> for MarkRange
where
    DB: diesel::backend::Backend,
    i64: diesel::serialize::ToSql<diesel::sql_types::BigInt, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("UPDATE outbox_events SET published_at = ");
        out.push_bind_param::<diesel::sql_types::BigInt, _>(&self.now)?;
        out.push_sql(" WHERE seq BETWEEN ");
        out.push_bind_param::<diesel::sql_types::BigInt, _>(&self.first)?;
        out.push_sql(" AND ");
        out.push_bind_param::<diesel::sql_types::BigInt, _>(&self.last)?;
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for MarkRange {}

/// How many events the relay reads at a time: large, because on SQLite each batch's writes wait
/// for the journal's turn, so fewer, bigger batches keep the relay level with a flash sale.
pub const UNPUBLISHED_BATCH: usize = 2_000;

/// `SELECT seq, payload FROM outbox_events WHERE published_at IS NULL ORDER BY seq LIMIT 2000`,
/// with its limit written into the SQL. diesel binds a `.limit(n)` as a parameter, and SQLite
/// (3.47 on) reads a bound LIMIT while planning, so it marks the statement to be prepared again
/// whenever that parameter is bound: diesel binds on every execution, so the relay's cached read
/// was parsed and planned anew on every batch (`sqlite3Reprepare` in a flash sale's profile).
#[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
struct Unpublished;

const UNPUBLISHED_SQL: &str =
    "SELECT seq, payload FROM outbox_events WHERE published_at IS NULL ORDER BY seq LIMIT 2000";

impl diesel::query_builder::Query for Unpublished {
    type SqlType = (diesel::sql_types::BigInt, diesel::sql_types::Text);
}

impl<DB: diesel::backend::Backend> diesel::query_builder::QueryFragment<DB> for Unpublished {
    fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(UNPUBLISHED_SQL);
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for Unpublished {}

/// The runs of consecutive numbers in `seqs`, as (first, last), in ascending order.
fn consecutive_runs(mut seqs: Vec<i64>) -> Vec<(i64, i64)> {
    seqs.sort_unstable();
    seqs.dedup();
    let mut runs: Vec<(i64, i64)> = Vec::new();
    for seq in seqs {
        match runs.last_mut() {
            Some((_, last)) if last.checked_add(1) == Some(seq) => *last = seq,
            _ => runs.push((seq, seq)),
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infrastructure::db::migrate;
    use diesel::sqlite::SqliteConnection;
    use livecart_actors::events::EventPayload;
    use livecart_actors::ids::new_id;

    #[test]
    fn marks_exactly_the_events_it_was_given_not_those_in_their_gaps() {
        let mut conn = DbConnection::Sqlite(SqliteConnection::establish(":memory:").expect("an in-memory database"));
        migrate::run_pending(&mut conn).expect("migrated");
        let events: Vec<DomainEvent> = (0..6)
            .map(|_| DomainEvent::new(chrono::Utc::now(), EventPayload::LiveStarted { room_id: new_id() }))
            .collect();
        append(&mut conn, &events.iter().collect::<Vec<_>>()).expect("appended");
        let seqs: Vec<i64> = outbox::outbox_events
            .order(outbox::seq.asc())
            .select(outbox::seq)
            .load(&mut conn)
            .expect("seqs");
        // As if the relay read the 1st, 2nd, 4th and 5th (the others committed after its read).
        let read = vec![seqs[0], seqs[1], seqs[3], seqs[4]];
        mark_published(&mut conn, read, 42).expect("marked");
        let unpublished: Vec<i64> = outbox::outbox_events
            .filter(outbox::published_at.is_null())
            .order(outbox::seq.asc())
            .select(outbox::seq)
            .load(&mut conn)
            .expect("unpublished");
        assert_eq!(unpublished, vec![seqs[2], seqs[5]]);
        mark_published(&mut conn, vec![], 43).expect("nothing to mark");
    }

    #[test]
    fn the_relay_read_limits_to_its_batch() {
        assert!(UNPUBLISHED_SQL.ends_with(&format!(" LIMIT {UNPUBLISHED_BATCH}")));
        let mut conn = DbConnection::Sqlite(SqliteConnection::establish(":memory:").expect("an in-memory database"));
        migrate::run_pending(&mut conn).expect("migrated");
        let events: Vec<DomainEvent> = (0..UNPUBLISHED_BATCH + 3)
            .map(|_| DomainEvent::new(chrono::Utc::now(), EventPayload::LiveStarted { room_id: new_id() }))
            .collect();
        append(&mut conn, &events.iter().collect::<Vec<_>>()).expect("appended");
        let DbConnection::Sqlite(c) = &mut conn else {
            unreachable!("an SQLite connection")
        };
        let read: Vec<(i64, String)> = Unpublished.load(c).expect("read");
        assert_eq!(read.len(), UNPUBLISHED_BATCH);
        assert!(read.windows(2).all(|w| w[0].0 < w[1].0), "in commit order");
    }

    #[test]
    fn runs_cover_exactly_the_given_seqs() {
        assert_eq!(consecutive_runs(vec![]), vec![]);
        assert_eq!(consecutive_runs(vec![7]), vec![(7, 7)]);
        assert_eq!(consecutive_runs(vec![1, 2, 3, 4]), vec![(1, 4)]);
        assert_eq!(consecutive_runs(vec![1, 2, 4, 5, 9]), vec![(1, 2), (4, 5), (9, 9)]);
        assert_eq!(consecutive_runs(vec![5, 3, 4, 4, 1]), vec![(1, 1), (3, 5)]);
        assert_eq!(
            consecutive_runs(vec![i64::MAX - 1, i64::MAX]),
            vec![(i64::MAX - 1, i64::MAX)]
        );
    }
}
