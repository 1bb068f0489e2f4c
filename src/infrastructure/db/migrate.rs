//! Migrations, one set per backend, embedded in the binary.

use super::connection::DbConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Applies every pending migration; returns how many ran.
pub fn run_pending(conn: &mut DbConnection) -> anyhow::Result<usize> {
    let applied = match conn {
        DbConnection::Pg(c) => {
            // Two processes starting on one database at once must not both migrate it.
            use diesel::connection::SimpleConnection;
            c.batch_execute("SELECT pg_advisory_lock(7262744000)")?;
            let applied = c.run_pending_migrations(POSTGRES).map(|v| v.len());
            c.batch_execute("SELECT pg_advisory_unlock(7262744000)")?;
            applied
        }
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE).map(|v| v.len()),
    };
    applied.map_err(|e| anyhow::anyhow!("migrations failed: {e}"))
}

/// `livecart migrate`: connects to the configured database and applies what is pending.
pub async fn migrate_url(url: &str) -> anyhow::Result<()> {
    let connector = super::Connector::new(url);
    let applied = tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
        connector.prepare()?;
        let mut conn = connector.connect()?;
        run_pending(&mut conn)
    })
    .await??;
    tracing::info!(migrations.applied = applied, "migrations done");
    Ok(())
}

/// Reverts an SQLite database's migrations back to before the one named `version` (its folder's
/// date and number, `2026-12-02-000000`), newest first: tests of what a migration does to data
/// written before it.
#[cfg(test)]
pub(crate) fn revert_sqlite_to_before(conn: &mut diesel::SqliteConnection, version: &str) {
    let version: String = version.chars().filter(char::is_ascii_digit).collect();
    loop {
        let applied = conn.applied_migrations().expect("the applied migrations");
        match applied.iter().map(ToString::to_string).max() {
            Some(last) if last >= version => {
                conn.revert_last_migration(SQLITE).expect("reverted");
            }
            _ => return,
        }
    }
}
