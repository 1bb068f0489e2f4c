//! SQL storage through diesel: SQLite embedded by default, PostgreSQL in production.

pub mod checkpointer;
pub mod connection;
pub mod create_database;
pub mod file_lock;
pub mod fixed_sql;
pub mod migrate;
pub mod schema;
pub mod time;
pub mod write_turn;

pub use connection::{build_pool, suspect_connections, Backend, Connector, DbConnection, DbPool};
pub use write_turn::{TurnHolder, Writers};

use diesel::r2d2::{self, PooledConnection};

/// Runs the same diesel code on whichever backend the connection is, for the few statements
/// (multi-row upserts with RETURNING) that the shared `MultiConnection` backend cannot express.
#[macro_export]
macro_rules! per_backend {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::infrastructure::db::DbConnection::Pg($c) => $body,
            $crate::infrastructure::db::DbConnection::Sqlite($c) => $body,
        }
    };
}

/// Runs `$body` over `$rows` in chunks of 32, 16, 8, 4, 2 and 1 rows (`$chunk` is a `&[T; N]`),
/// for the journal's multi-row inserts on SQLite (PostgreSQL binds whole columns as arrays
/// instead: `repos::unnest_inserts`). diesel caches a prepared statement only when its SQL
/// cannot change, which a `Vec` of rows does with every batch size: each batch was parsed and
/// planned afresh (SQLite's parser was a visible share of a flash sale's profile). An array's
/// statement is the same every time, so at most six statements per table are ever prepared.
/// `$body` is an expression of type `QueryResult<_>`; the results are collected in order.
#[macro_export]
macro_rules! in_fixed_chunks {
    ($rows:expr, |$chunk:ident| $body:expr) => {{
        let mut rest = $rows;
        let mut results = Vec::new();
        let mut failed: Option<diesel::result::Error> = None;
        while failed.is_none() && !rest.is_empty() {
            $crate::in_fixed_chunks!(@size rest, results, failed, $chunk, $body, 32, 16, 8, 4, 2, 1);
        }
        match failed {
            Some(err) => Err(err),
            None => Ok(results),
        }
    }};
    (@size $rest:ident, $results:ident, $failed:ident, $chunk:ident, $body:expr, $($n:literal),*) => {
        $(
            if $rest.len() >= $n {
                let (head, tail) = $rest.split_at($n);
                // The split took exactly $n rows.
                if let Ok($chunk) = <&[_; $n]>::try_from(head) {
                    match $body {
                        Ok(result) => $results.push(result),
                        Err(err) => $failed = Some(err),
                    }
                }
                $rest = tail;
                continue;
            }
        )*
    };
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("no database connection: {0}")]
    Pool(#[from] r2d2::PoolError),
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the storage task did not finish")]
    Interrupted,
}

pub type StorageResult<T> = Result<T, StorageError>;

/// Runs blocking diesel work on tokio's blocking pool with a pooled connection, so no async
/// thread ever waits on the database.
pub async fn with_conn<T, F>(pool: &DbPool, work: F) -> StorageResult<T>
where
    T: Send + 'static,
    F: FnOnce(&mut PooledConnection<Connector>) -> StorageResult<T> + Send + 'static,
{
    let pool = pool.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = pool.get()?;
        let outcome = work(&mut conn);
        if let Err(StorageError::Query(err)) = &outcome {
            if may_be_dead_connection(err) {
                connection::suspect_connections();
            }
        }
        outcome
    })
    .await
    .map_err(|_| StorageError::Interrupted)?
}

/// [`with_conn`] for work that writes: on SQLite it waits for the database's write turn first
/// (see [`Writers`]), so it queues behind the journal's commit instead of sleeping in SQLite's
/// busy handler, and the journal never sleeps behind it.
pub async fn with_write_conn<T, F>(pool: &DbPool, writers: &Writers, work: F) -> StorageResult<T>
where
    T: Send + 'static,
    F: FnOnce(&mut PooledConnection<Connector>) -> StorageResult<T> + Send + 'static,
{
    let writers = writers.clone();
    with_conn(pool, move |conn| {
        let _turn = writers.turn(TurnHolder::Writes);
        work(conn)
    })
    .await
}

/// Every failure but the ones a healthy connection gives (no row, a constraint) may mean the
/// connection died under the query.
fn may_be_dead_connection(err: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind as Kind, Error};
    !matches!(
        err,
        Error::NotFound
            | Error::DatabaseError(
                Kind::UniqueViolation | Kind::ForeignKeyViolation | Kind::NotNullViolation | Kind::CheckViolation,
                _
            )
    )
}

/// Parses a stored UUID; a bad one means the row was written by something else.
pub fn parse_id(s: &str) -> StorageResult<uuid::Uuid> {
    uuid::Uuid::parse_str(s).map_err(|_| StorageError::Corrupt(format!("bad id {s:?}")))
}

/// The SQL of every statement `run` sends on `conn`, in order: for tests that a batch costs a
/// fixed number of statements, not one per row.
#[cfg(test)]
pub(crate) fn statements_sent<R>(
    conn: &mut DbConnection,
    run: impl FnOnce(&mut DbConnection) -> R,
) -> (R, Vec<String>) {
    use diesel::connection::{Connection, InstrumentationEvent};
    use std::sync::{Arc, Mutex, PoisonError};
    let sent = Arc::new(Mutex::new(Vec::new()));
    let recorder = sent.clone();
    conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            recorder
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(query.to_string());
        }
    });
    let result = run(conn);
    conn.set_instrumentation(|_: InstrumentationEvent<'_>| {});
    let sent = std::mem::take(&mut *sent.lock().unwrap_or_else(PoisonError::into_inner));
    (result, sent)
}

/// The statements `run` sends on `conn` that diesel did not keep prepared: each is parsed and
/// planned again every time it runs. Give it a fresh connection (a statement cached before
/// `run` counts as not kept).
#[cfg(test)]
pub(crate) fn statements_not_kept<R>(
    conn: &mut DbConnection,
    run: impl FnOnce(&mut DbConnection) -> R,
) -> (R, Vec<String>) {
    use diesel::connection::{Connection, InstrumentationEvent};
    use std::sync::{Arc, Mutex, PoisonError};
    let seen = Arc::new(Mutex::new((Vec::<String>::new(), Vec::<String>::new())));
    let recorder = seen.clone();
    conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        let mut seen = recorder.lock().unwrap_or_else(PoisonError::into_inner);
        match event {
            InstrumentationEvent::StartQuery { query, .. } => seen.0.push(query.to_string()),
            InstrumentationEvent::CacheQuery { sql, .. } => seen.1.push(sql.to_owned()),
            _ => {}
        }
    });
    let result = run(conn);
    conn.set_instrumentation(|_: InstrumentationEvent<'_>| {});
    let (started, cached) = std::mem::take(&mut *seen.lock().unwrap_or_else(PoisonError::into_inner));
    let mut not_kept: Vec<String> = started
        .into_iter()
        .filter(|query| !cached.iter().any(|sql| query.starts_with(sql.as_str())))
        .collect();
    not_kept.dedup();
    (result, not_kept)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rows_go_in_chunks_of_fixed_sizes_and_in_order() {
        let sizes = |n: usize| -> Vec<usize> {
            let rows: Vec<usize> = (0..n).collect();
            let chunks: Vec<Vec<usize>> =
                in_fixed_chunks!(rows.as_slice(), |chunk| Ok(chunk.to_vec())).expect("no statement to fail");
            assert_eq!(chunks.concat(), rows, "every row once, in order");
            chunks.iter().map(Vec::len).collect()
        };
        let failing: Result<Vec<()>, _> = in_fixed_chunks!([1, 2, 3].as_slice(), |chunk| if chunk.len() == 1 {
            Err(diesel::result::Error::NotFound)
        } else {
            Ok(())
        });
        assert!(failing.is_err(), "a failed statement fails the whole");
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(1), [1]);
        assert_eq!(sizes(28), [16, 8, 4]);
        assert_eq!(sizes(70), [32, 32, 4, 2]);
        assert_eq!(sizes(63), [32, 16, 8, 4, 2, 1]);
    }
}
