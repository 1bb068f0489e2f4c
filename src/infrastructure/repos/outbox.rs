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

    pub async fn mark_published(&self, seqs: Vec<i64>) -> StorageResult<()> {
        let now = time::to_millis(chrono::Utc::now());
        with_write_conn(&self.pool, &self.writers, move |conn| {
            diesel::update(outbox::outbox_events.filter(outbox::seq.eq_any(seqs)))
                .set(outbox::published_at.eq(now))
                .execute(conn)?;
            Ok(())
        })
        .await
    }
}
