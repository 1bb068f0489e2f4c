//! Where a bench shop keeps its data: a fresh database per run, so every run starts empty and
//! leaves nothing behind.

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
    pub fn sqlite() -> Database {
        let dir = std::env::temp_dir().join(format!("livecart_bench_{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("the temp dir is writable");
        Database::Sqlite { dir }
    }

    /// A new database on the PostgreSQL server that `admin_url` reaches as a role that may
    /// `CREATE DATABASE`.
    pub fn postgres(admin_url: &str) -> Database {
        let name = format!("livecart_bench_{}", Uuid::new_v4().simple());
        let mut conn = PgConnection::establish(admin_url)
            .unwrap_or_else(|e| panic!("LIVECART_BENCH_POSTGRES={admin_url} is not reachable: {e}"));
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .expect("the admin role may create a database");
        Database::Postgres {
            admin_url: admin_url.to_owned(),
            name,
        }
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
            eprintln!("note: the bench database {} was left behind: {e}", self.url());
        }
    }
}
