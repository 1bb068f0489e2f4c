//! Where a server under load keeps its data: a fresh database per run, so every run starts
//! empty and leaves nothing behind. Used by the load tool's own servers (livecart started as a
//! child process, the PostgreSQL peers) and by the in-process `fanout` bench.

use anyhow::Context;
use diesel::{Connection, PgConnection, RunQueryDsl};
use std::path::PathBuf;
use uuid::Uuid;

/// The backend a shop runs on, created for the run and removed by `remove`.
pub enum Database {
    Sqlite { dir: PathBuf },
    Postgres { admin_url: String, name: String },
}

impl Database {
    /// A SQLite file in a new directory under the system's temp dir, the embedded default.
    pub fn sqlite() -> anyhow::Result<Database> {
        let dir = std::env::temp_dir().join(format!("livecart_bench_{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Database::Sqlite { dir })
    }

    /// A new database on the PostgreSQL server that `admin_url` reaches as a role that may
    /// `CREATE DATABASE`.
    pub fn postgres(admin_url: &str) -> anyhow::Result<Database> {
        let name = format!("livecart_bench_{}", Uuid::new_v4().simple());
        let mut conn = PgConnection::establish(admin_url)
            .with_context(|| format!("PostgreSQL at {} is not reachable", mask(admin_url)))?;
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .context("the admin role may not create a database")?;
        Ok(Database::Postgres {
            admin_url: admin_url.to_owned(),
            name,
        })
    }

    pub fn label(&self) -> &'static str {
        match self {
            Database::Sqlite { .. } => "SQLite",
            Database::Postgres { .. } => "PostgreSQL",
        }
    }

    pub fn url(&self) -> String {
        match self {
            Database::Sqlite { dir } => format!("sqlite://{}", dir.join("livecart.db").display()),
            Database::Postgres { admin_url, name } => {
                let server = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(s, _)| s);
                format!("{server}/{name}")
            }
        }
    }

    /// Removes the run's data. Best effort: a leftover only costs disk, so it is reported, not
    /// fatal.
    pub fn remove(self) {
        let removed = match &self {
            Database::Sqlite { dir } => std::fs::remove_dir_all(dir).map_err(|e| e.to_string()),
            Database::Postgres { admin_url, name } => PgConnection::establish(admin_url)
                .map_err(|e| e.to_string())
                .and_then(|mut conn| {
                    // FORCE: the app's journal and pool still hold connections until exit.
                    diesel::sql_query(format!("DROP DATABASE {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .map(drop)
                        .map_err(|e| e.to_string())
                }),
        };
        if let Err(e) = removed {
            eprintln!("note: the bench database {} was left behind: {e}", mask(&self.url()));
        }
    }
}

/// A URL with its password masked, for messages.
pub fn mask(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}
