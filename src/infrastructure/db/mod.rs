//! SQL storage through diesel: SQLite embedded by default, PostgreSQL in production.

pub mod connection;
pub mod file_lock;
pub mod migrate;
pub mod schema;
pub mod time;

pub use connection::{build_pool, suspect_connections, Backend, Connector, DbConnection, DbPool, Writers};

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
        let _turn = writers.turn();
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
