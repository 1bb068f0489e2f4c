//! One connection type for both backends, and the pool that hands them out.
//!
//! `DbConnection` derives diesel's `MultiConnection`, so most queries are written once. The few
//! that need a backend's own SQL (`ON CONFLICT … RETURNING` in the journal) match on the variant.

use super::write_turn::Writers;
use crate::infrastructure::repos::buyer_index::Unfiled;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, Pool};
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// When a query last failed in a way that may mean a dead connection (unix millis).
static LAST_CONNECTION_FAILURE_MS: AtomicI64 = AtomicI64::new(0);

/// How long after such a failure returned connections are checked before they go back.
const SUSPICION_MS: i64 = 30_000;

/// Notes a failure that may have left connections dead (the database restarted, the network
/// broke): for a while, every connection returned to a pool is checked and dropped if dead,
/// so a restart costs each pooled connection one failed query, not an outage.
pub fn suspect_connections() {
    LAST_CONNECTION_FAILURE_MS.store(chrono::Utc::now().timestamp_millis(), Ordering::Relaxed);
}

fn connections_suspect() -> bool {
    let last = LAST_CONNECTION_FAILURE_MS.load(Ordering::Relaxed);
    last != 0 && chrono::Utc::now().timestamp_millis() - last < SUSPICION_MS
}

/// libpq settings that bound how long a dead or unreachable server can hold a caller: connect
/// within 5 s, probe idle connections, and give up on unacknowledged writes after 10 s. Values
/// already in the URL win.
pub(super) fn with_timeouts(url: &str) -> String {
    const DEFAULTS: [(&str, &str); 6] = [
        ("connect_timeout", "5"),
        ("keepalives", "1"),
        ("keepalives_idle", "10"),
        ("keepalives_interval", "5"),
        ("keepalives_count", "3"),
        ("tcp_user_timeout", "10000"),
    ];
    let mut url = url.to_owned();
    for (key, value) in DEFAULTS {
        if url.contains(&format!("{key}=")) {
            continue;
        }
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&format!("{key}={value}"));
    }
    url
}

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn of_url(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// Opens connections of the backend the URL names, never guessing by trial (a PostgreSQL URL
/// must not fall through to SQLite and create a file named after it).
#[derive(Debug, Clone)]
pub struct Connector {
    url: String,
    backend: Backend,
    /// Commits need not wait for the disk: only for writes that are redone if lost.
    relaxed: bool,
    /// Shared by every clone, so the journal, the pools and the relay of one database share it.
    writers: Writers,
    /// The keyless orders the journal has not filed in the buyers' index yet (SQLite), shared by
    /// every clone like `writers`: the journal names them, readers of a buyer's orders ask.
    unfiled: Arc<Unfiled>,
    /// SQLite's `busy_timeout`: how long a statement waits for another process's write lock.
    busy_timeout_ms: u64,
}

impl Connector {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            backend: Backend::of_url(url),
            relaxed: false,
            writers: match Backend::of_url(url) {
                Backend::Sqlite => Writers::sqlite(),
                Backend::Postgres => Writers::none(),
            },
            unfiled: Arc::default(),
            busy_timeout_ms: 10_000,
        }
    }

    /// How long a SQLite statement waits for another process's write lock before it fails.
    pub fn busy_timeout_ms(mut self, ms: u64) -> Self {
        self.busy_timeout_ms = ms;
        self
    }

    /// The write turns of this database (see [`Writers`]).
    pub fn writers(&self) -> Writers {
        self.writers.clone()
    }

    /// The orders of this database not in its buyers' index yet (see [`Unfiled`]).
    pub fn unfiled(&self) -> Arc<Unfiled> {
        self.unfiled.clone()
    }

    /// The same database, for writers whose commits may be lost in a crash because they are
    /// derived and redone (the outbox relay and its consumers: an event whose marks are lost is
    /// published again, and consumers dedupe). Logs are sequential on both backends, so a crash
    /// loses a suffix of such commits, never one from the middle. Their commits then no longer
    /// hold SQLite's single writer lock through a sync, which the journal waits behind.
    pub fn relaxed(mut self) -> Self {
        self.relaxed = true;
        self
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database file, on SQLite.
    pub fn sqlite_file(&self) -> Option<&Path> {
        (self.backend == Backend::Sqlite).then(|| Path::new(self.sqlite_path()))
    }

    /// The URL without its scheme: what SQLite opens.
    fn sqlite_path(&self) -> &str {
        self.url.trim_start_matches("sqlite://")
    }

    pub fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match self.backend {
            Backend::Postgres => {
                let mut conn =
                    PgConnection::establish(&with_timeouts(&self.url)).map_err(r2d2::Error::ConnectionError)?;
                if self.relaxed {
                    conn.batch_execute("SET synchronous_commit = off")
                        .map_err(r2d2::Error::QueryError)?;
                }
                Ok(DbConnection::Pg(conn))
            }
            Backend::Sqlite => {
                let path = self.sqlite_path();
                if let Some(dir) = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
                    // An error here resurfaces, better worded, from establish below.
                    let _ = std::fs::create_dir_all(dir);
                }
                let mut conn = SqliteConnection::establish(path).map_err(r2d2::Error::ConnectionError)?;
                // synchronous = FULL syncs the WAL at every commit: an acknowledged order survives a
                // power cut, and group commit pays that sync once per batch, not once per order.
                // busy_timeout makes a statement wait for another process's write lock instead of
                // failing; this process's writers take turns before they write (see `Writers`).
                // Checkpoints are the checkpointer's alone (see `checkpointer`): one run inside a
                // commit holds the write turn.
                let synchronous = if self.relaxed { "NORMAL" } else { "FULL" };
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA synchronous = {synchronous}; PRAGMA foreign_keys = ON; \
                     PRAGMA wal_autocheckpoint = 0;",
                    self.busy_timeout_ms
                ))
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

impl Connector {
    /// Once, before any pool opens: SQLite goes to WAL mode, which the file keeps, so readers
    /// run beside the journal's writes. Switching needs the database to itself, which is why it
    /// is not done per connection.
    ///
    /// A PostgreSQL database that does not exist is created here when the configured user may
    /// (see `create_database`); when it may not, the error says what to run.
    pub fn prepare(&self) -> anyhow::Result<()> {
        let mut conn = match self.connect() {
            Err(r2d2::Error::ConnectionError(err))
                if self.backend == Backend::Postgres && super::create_database::is_missing_database(&err) =>
            {
                let name = super::create_database::create_missing(&with_timeouts(&self.url))?;
                tracing::info!(database.name = %name, "created the PostgreSQL database, which did not exist");
                self.connect()?
            }
            other => other?,
        };
        if let DbConnection::Sqlite(conn) = &mut conn {
            conn.batch_execute("PRAGMA journal_mode = WAL;")
                .map_err(r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

impl ManageConnection for Connector {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        Connector::connect(self)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1").map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        connections_suspect() && conn.batch_execute("SELECT 1").is_err()
    }
}

pub type DbPool = Pool<Connector>;

pub fn build_pool(connector: Connector, size: u32) -> Result<DbPool, r2d2::PoolError> {
    // No test query on checkout: a broken connection fails its query, and that answers 503.
    Pool::builder()
        .max_size(size)
        .test_on_check_out(false)
        .connection_timeout(Duration::from_secs(5))
        .build(connector)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_get_timeouts_unless_they_set_their_own() {
        let url = with_timeouts("postgres://u@h/db");
        assert!(url.starts_with("postgres://u@h/db?connect_timeout=5&"), "{url}");
        assert!(url.contains("tcp_user_timeout=10000"), "{url}");
        let own = with_timeouts("postgres://u@h/db?sslmode=disable&connect_timeout=1");
        assert!(
            own.contains("connect_timeout=1") && !own.contains("connect_timeout=5"),
            "{own}"
        );
        assert!(own.contains("&keepalives=1"), "{own}");
    }
}
