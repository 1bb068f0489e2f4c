//! SQLite's write turn, taken in process, and how long each writer waits for it and holds it.
//!
//! SQLite lets one connection write at a time. The writers of one database in this process take
//! turns here, each woken the moment the one before it commits, rather than in SQLite's busy
//! handler, which sleeps 1, 2, 5, 10, 15, 20 ms … between tries: behind a relay or snapshot commit
//! the journal would sleep past the commit, and that sleep is added to every order of its batch.
//! PostgreSQL locks rows, not the database, and takes no turn.
//!
//! Every order of a batch waits for whatever holds the turn before the journal, so each turn is
//! timed, by holder, in `livecart_sqlite_write_turn_seconds{holder, phase}` (`waited`, `held`): an
//! operator sees which writer stalls the orders without a profiler (docs/BENCHMARKS.md traced the
//! open loop's p99 to such holds with a build that logged them).

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

/// The writers of one database in this process; clones share the turn.
#[derive(Debug, Clone)]
pub struct Writers(Option<Arc<Mutex<()>>>);

/// Who takes the turn, as the metric's `holder` label names it.
#[derive(Debug, Clone, Copy)]
pub enum TurnHolder {
    /// The journal's batches, and a new journal connection's filing.
    Journal,
    /// Snapshots written behind (rooms, listings, sessions).
    Snapshots,
    /// Room leases: taken, renewed, given back.
    Leases,
    /// The checkpointer's last steps before the log starts over.
    Checkpoint,
    /// Every other write (`with_write_conn`): the relay's position, coupons, accounts, payments.
    Writes,
}

impl TurnHolder {
    /// How many holders there are: the handles' table is indexed by `holder as usize`.
    const COUNT: usize = 5;

    fn label(self) -> &'static str {
        match self {
            TurnHolder::Journal => "journal",
            TurnHolder::Snapshots => "snapshots",
            TurnHolder::Leases => "leases",
            TurnHolder::Checkpoint => "checkpoint",
            TurnHolder::Writes => "writes",
        }
    }
}

// The last holder's index is the table's last row.
const _: () = assert!(TurnHolder::Writes as usize + 1 == TurnHolder::COUNT);

/// The histograms' handles, made once per holder and phase rather than looked up per turn.
fn timer(holder: TurnHolder, held: bool) -> &'static metrics::Histogram {
    static HANDLES: [[OnceLock<metrics::Histogram>; 2]; TurnHolder::COUNT] =
        [const { [const { OnceLock::new() }, const { OnceLock::new() }] }; TurnHolder::COUNT];
    HANDLES[holder as usize][usize::from(held)].get_or_init(|| {
        let phase = if held { "held" } else { "waited" };
        metrics::histogram!("livecart_sqlite_write_turn_seconds", "holder" => holder.label(), "phase" => phase)
    })
}

impl Writers {
    /// The turn of a SQLite database; for PostgreSQL, [`Writers::none`].
    pub fn sqlite() -> Self {
        Self(Some(Arc::new(Mutex::new(()))))
    }

    /// No turn to take (PostgreSQL).
    pub fn none() -> Self {
        Self(None)
    }

    /// Waits for this database's write turn (SQLite), held until the guard drops; `None` on
    /// PostgreSQL. Take it before the transaction's first statement and keep it to its commit.
    pub fn turn(&self, holder: TurnHolder) -> Option<Turn<'_>> {
        let turn = self.0.as_ref()?;
        let asked = Instant::now();
        // The guard protects no data: a panic while it was held leaves nothing to repair.
        let guard = turn.lock().unwrap_or_else(|p| p.into_inner());
        let taken = Instant::now();
        timer(holder, false).record(taken.duration_since(asked).as_secs_f64());
        Some(Turn {
            _guard: guard,
            holder,
            taken,
        })
    }
}

/// The write turn, held until dropped; its holding time is recorded then.
pub struct Turn<'a> {
    _guard: MutexGuard<'a, ()>,
    holder: TurnHolder,
    taken: Instant,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        timer(self.holder, true).record(self.taken.elapsed().as_secs_f64());
    }
}
