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
    pub async fn unpublished_events(&self, limit: i64) -> StorageResult<Vec<PendingEvent>> {
        with_conn(&self.pool, move |conn| {
            let rows: Vec<(i64, String)> = outbox::outbox_events
                .filter(outbox::published_at.is_null())
                .order(outbox::seq.asc())
                .limit(limit)
                .select((outbox::seq, outbox::payload))
                .load(conn)?;
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
    /// sequence numbers, in one transaction. A run holds every seq from its first to its last,
    /// and sequence numbers are unique, so the range names exactly the rows read and no other
    /// (not even one committed since with a seq in a gap: gaps end runs). Its SQL is the same
    /// for every batch, so it is prepared once per connection, where `seq IN (…)` was parsed and
    /// planned anew with each batch's size; the relay reads in seq order, so a batch is usually
    /// one run (a PostgreSQL sequence leaves gaps where a transaction rolled back).
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
    conn.transaction(|conn| {
        for (first, last) in consecutive_runs(seqs) {
            diesel::update(outbox::outbox_events.filter(outbox::seq.between(first, last)))
                .set(outbox::published_at.eq(now))
                .execute(conn)?;
        }
        Ok(())
    })
}

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
