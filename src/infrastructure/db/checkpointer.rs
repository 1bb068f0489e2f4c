//! SQLite only: copies the write-ahead log into the database file in small, frequent steps.
//!
//! The journal's connection never checkpoints (a checkpoint on the order path would hold its
//! batch), and SQLite otherwise checkpoints at the commit of whichever connection finds the log
//! past 1,000 pages. Since the journal saves the relay's position in its own batches, the other
//! connections hardly commit during a sale, so the log grew for a second or more and the next
//! commit elsewhere copied and synced thousands of pages at once; the journal's sync waited
//! behind that write-out, and one batch in a few hundred took 100 ms. A passive checkpoint every
//! [`EVERY`] copies a few hundred pages at a time instead. It commits nothing, so the journal's
//! connection keeps its page cache, and it never waits for a writer or holds one up.

use super::{Connector, DbConnection};
use diesel::connection::SimpleConnection;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// How often the log is copied into the database file.
const EVERY: Duration = Duration::from_millis(100);

/// The running checkpointer; it stops when this is dropped.
pub struct Checkpointer {
    _stop: mpsc::Sender<()>,
}

impl Checkpointer {
    /// Starts the thread on a connection of its own; `None` on PostgreSQL (nothing to do).
    pub fn start(connector: &Connector) -> anyhow::Result<Option<Checkpointer>> {
        let DbConnection::Sqlite(mut conn) = connector.connect()? else {
            return Ok(None);
        };
        let (stop, stopped) = mpsc::channel::<()>();
        thread::Builder::new()
            .name("livecart-checkpoint".into())
            .spawn(move || {
                // Ends when the sender is dropped (recv fails) rather than on a timeout.
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
                    if let Err(err) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE);") {
                        tracing::warn!(error = %err, "a checkpoint of the SQLite log failed; the next one will try again");
                    }
                }
            })?;
        Ok(Some(Checkpointer { _stop: stop }))
    }
}
