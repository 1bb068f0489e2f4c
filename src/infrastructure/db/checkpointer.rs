//! SQLite only: copies the write-ahead log into the database file in small, frequent steps, and
//! has the log start over from its beginning once it has grown long.
//!
//! No other connection checkpoints (`wal_autocheckpoint = 0` on every connection). The journal's
//! would hold its batch; any other would run the checkpoint inside its commit, holding the
//! database's write turn: a lease renewal held it 20 to 40 ms every few seconds that way, with
//! every order of the moment waiting. A passive checkpoint every [`EVERY`] copies what the log
//! gained since the last one; it commits nothing, so the journal's connection keeps its page
//! cache, and it never waits for a writer or holds one up.
//!
//! A log only starts over when a writer begins while every frame of it is in the database file.
//! During a sale the journal commits every millisecond or two, faster than a checkpoint can
//! finish, so that never happened by itself: the log grew by about 100 MB every ten seconds for
//! as long as the sale lasted. Once it is past [`Limits::restart_above`] frames, the checkpointer
//! copies until little is left, then takes the write turn for the last few frames, and the
//! journal's next commit writes the log from its start again.
//!
//! SQLite syncs the database file only when a checkpoint reaches the log's end, so that last
//! step, under the turn, would sync everything copied since the log last started over: 10 to
//! 110 ms of every order's time, measured. The checkpointer syncs the file itself after each
//! copy instead, outside the turn, and the step under it syncs only its last few frames.

use super::{Connector, DbConnection, TurnHolder, Writers};
use diesel::sql_types::Integer;
use diesel::{QueryableByName, RunQueryDsl, SqliteConnection};
use std::fs::File;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// How often the log is copied into the database file.
const EVERY: Duration = Duration::from_millis(100);

/// When the log is made to start over.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Frames (pages, about 4 KiB each) the log may hold before it is made to start over: at a
    /// sale's pace about a second of commits, so the turn is taken about once a second.
    pub restart_above: i32,
    /// Frames left to copy at which the checkpointer takes the write turn to copy the rest
    /// (whatever is left once the log holds twice `restart_above`).
    pub finish_within: i32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            restart_above: 32_768,
            finish_within: 256,
        }
    }
}

/// The running checkpointer; it stops when this is dropped.
pub struct Checkpointer {
    _stop: mpsc::Sender<()>,
}

/// What `PRAGMA wal_checkpoint` answers.
#[derive(Debug, QueryableByName)]
struct Progress {
    /// 1 when the checkpoint could not run to its end (a writer or reader was in the way).
    #[diesel(sql_type = Integer)]
    busy: i32,
    /// Frames in the log.
    #[diesel(sql_type = Integer)]
    log: i32,
    /// Frames of it copied into the database file.
    #[diesel(sql_type = Integer)]
    checkpointed: i32,
}

impl Progress {
    fn left(&self) -> i32 {
        self.log - self.checkpointed
    }
}

fn checkpoint(conn: &mut SqliteConnection) -> diesel::QueryResult<Progress> {
    diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").get_result(conn)
}

impl Checkpointer {
    /// Starts the thread on a connection of its own; `None` on PostgreSQL (nothing to do).
    pub fn start(connector: &Connector) -> anyhow::Result<Option<Checkpointer>> {
        Self::start_with(connector, Limits::default())
    }

    pub fn start_with(connector: &Connector, limits: Limits) -> anyhow::Result<Option<Checkpointer>> {
        let DbConnection::Sqlite(mut conn) = connector.connect()? else {
            return Ok(None);
        };
        let writers = connector.writers();
        let file = connector.sqlite_file().and_then(|path| match File::open(path) {
            Ok(file) => Some(file),
            Err(err) => {
                tracing::warn!(error = %err, "cannot open the SQLite file to sync it; the log's restarts will sync it under the write turn");
                None
            }
        });
        let (stop, stopped) = mpsc::channel::<()>();
        thread::Builder::new()
            .name("livecart-checkpoint".into())
            .spawn(move || {
                let mut copied = 0;
                // Ends when the sender is dropped (recv fails) rather than on a timeout.
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
                    if let Err(err) = step(&mut conn, &writers, file.as_ref(), &mut copied, limits) {
                        tracing::warn!(error = %err, "a checkpoint of the SQLite log failed; the next one will try again");
                    }
                }
                // Never closed: closing any descriptor of a file drops every POSIX lock this
                // process holds on it, SQLite's included. It ends with the process.
                std::mem::forget(file);
            })?;
        Ok(Some(Checkpointer { _stop: stop }))
    }
}

/// One checkpoint, and once the log is long, the steps that let it start over. `copied` is how
/// far the database file holds the log, synced.
fn step(
    conn: &mut SqliteConnection,
    writers: &Writers,
    file: Option<&File>,
    copied: &mut i32,
    limits: Limits,
) -> anyhow::Result<()> {
    let mut progress = checkpoint(conn)?;
    sync(file, copied, &progress)?;
    if progress.log < limits.restart_above {
        return Ok(());
    }
    // Catch up outside the turn first: what is copied under it is waited for by every order.
    for _ in 0..4 {
        if progress.left() <= limits.finish_within {
            break;
        }
        progress = checkpoint(conn)?;
        sync(file, copied, &progress)?;
    }
    // Past twice the bound (a disk too slow for the catch-up to get close), the rest is copied
    // under the turn however much it is: a longer wait once, rather than a log without end.
    if progress.left() > limits.finish_within && progress.log < limits.restart_above.saturating_mul(2) {
        return Ok(());
    }
    let _turn = writers.turn(TurnHolder::Checkpoint);
    let finished = checkpoint(conn)?;
    if finished.busy != 0 || finished.left() != 0 {
        // A reader still in an old part of the log: the next round tries again.
        tracing::debug!(
            log.frames = finished.log,
            log.left = finished.left(),
            "the SQLite log could not start over yet"
        );
    }
    Ok(())
}

/// Syncs the database file when the checkpoint copied more of the log into it.
fn sync(file: Option<&File>, copied: &mut i32, progress: &Progress) -> std::io::Result<()> {
    let Some(file) = file else { return Ok(()) };
    if progress.checkpointed != *copied {
        // A log that started over counts its frames from zero again.
        file.sync_data()?;
        *copied = progress.checkpointed;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::connection::SimpleConnection;
    use std::path::Path;
    use std::time::Instant;

    /// Commits one small row at a time, every fifth of a millisecond (faster than a checkpoint
    /// finishes), as the journal does during a sale, taking the write turn for each, for
    /// `for_how_long`; answers the frames it wrote at least (one per commit).
    fn write_without_pause(connector: &Connector, for_how_long: Duration) -> u64 {
        let DbConnection::Sqlite(mut conn) = connector.clone().relaxed().connect().expect("connection") else {
            unreachable!("a SQLite URL");
        };
        let writers = connector.writers();
        let body = "x".repeat(200);
        let started = Instant::now();
        let mut frames = 0;
        while started.elapsed() < for_how_long {
            let _turn = writers.turn(TurnHolder::Journal);
            diesel::sql_query("INSERT INTO rows (body) VALUES (?)")
                .bind::<diesel::sql_types::Text, _>(&body)
                .execute(&mut conn)
                .expect("insert");
            drop(_turn);
            frames += 1;
            std::thread::sleep(Duration::from_micros(200));
        }
        frames
    }

    fn wal_bytes(db: &Path) -> u64 {
        std::fs::metadata(db.with_extension("db-wal"))
            .map(|m| m.len())
            .unwrap_or(0)
    }

    #[test]
    fn under_writes_without_pause_the_log_starts_over_instead_of_growing() {
        let db = std::env::temp_dir().join(format!("livecart-checkpoint-{}.db", uuid::Uuid::new_v4().simple()));
        let connector = Connector::new(&format!("sqlite://{}", db.display()));
        connector.prepare().expect("WAL mode");
        let DbConnection::Sqlite(mut conn) = connector.connect().expect("connection") else {
            unreachable!("a SQLite URL");
        };
        conn.batch_execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, body TEXT NOT NULL);")
            .expect("table");
        // The turn is taken whenever the log is past 200 frames, however much is left: the test
        // is about the log starting over, not about how close the catch-up gets on a busy disk.
        let limits = Limits {
            restart_above: 200,
            finish_within: i32::MAX,
        };
        let checkpointer = Checkpointer::start_with(&connector, limits)
            .expect("start")
            .expect("SQLite");

        let frames = write_without_pause(&connector, Duration::from_millis(1_500));
        let written = frames * 4_120;
        let wal = wal_bytes(&db);
        drop(checkpointer);
        assert!(
            frames > 4 * limits.restart_above as u64,
            "the writer wrote too little to tell: {frames} frames"
        );
        // The log's file is as long as the longest it ever got: a log that started over stays
        // within a few rounds' growth, one that never did holds everything written.
        assert!(
            wal < written / 2,
            "the log grew with every write: {wal} bytes of log for {written} bytes written"
        );
        for suffix in ["db", "db-wal", "db-shm"] {
            let _ = std::fs::remove_file(db.with_extension(suffix));
        }
    }
}
