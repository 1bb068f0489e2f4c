//! How the journal answers a batch it wrote: its waiting actors first, then the outbox relay.
//!
//! The journal's connection commits without waiting for the disk (`synchronous = NORMAL` on
//! SQLite, `synchronous_commit = off` on PostgreSQL), and hands the batch here: a thread of its
//! own makes the log durable and only then answers every batch that had committed before it
//! began. The journal meanwhile writes the next batch, so its cycle is its CPU and its round
//! trips, no longer those and then a sync (the sync was about half the SQLite writer's wall time;
//! docs/BENCHMARKS.md). Batches that commit while a sync runs share the next one.
//!
//! - SQLite: `fdatasync` of the write-ahead log ([`WalFile`]). Checkpoints copy only synced frames
//!   into the database file: SQLite syncs the log before each one.
//! - PostgreSQL: a transaction of one log record on a connection of its own ([`PgLog`]), which
//!   the server flushes with every record before it, the batches' commits included.
//!
//! Between its commit and that sync, other connections can read a batch's rows. A killed livecart
//! loses none of them; a power cut (or, on PostgreSQL, a crash of the server) may, and then nobody
//! had been told they were written.
//!
//! When a sync fails:
//! - SQLite: the batches it covered are committed but of unknown durability: the kernel may have
//!   dropped the pages it could not write and cleared the error, so a second sync would succeed
//!   without them. No answer would be true, so the process stops, as PostgreSQL does on a failed
//!   sync (`data_sync_retry = off`), and a restart reads what the disk holds.
//! - PostgreSQL: the connection broke, or the server restarted and lost what it had not flushed.
//!   The log reads, on a fresh connection, the number of the last batch the server holds, then
//!   flushes: a batch at or below it is answered as committed, one above it as not written. The
//!   journal takes a new connection only after this ([`Answers::settle`]), so no later batch can
//!   raise that number before it is read.

use super::{now_ms, JournalHealth, Outcomes, Waiters};
use crate::infrastructure::committed_feed::CommittedFeed;
use crate::infrastructure::db::{Connector, DbConnection};
use crate::infrastructure::repos::leases;
use crate::infrastructure::repos::outbox::AppendedEvents;
use diesel::connection::SimpleConnection;
use livecart_actors::journal::JournalError;
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

/// Batches written but not yet synced, at most: beyond that the journal waits for the sync, its
/// queue fills and orders are refused at once (`Overloaded`) instead of piling up in memory.
const UNSYNCED_BATCHES: usize = 64;

/// One batch's answer: who waits, what each entry came to, and the events it wrote.
pub(super) struct Answer {
    /// The number the batch committed under (the writer's row holds the last one).
    pub batch_no: i64,
    pub waiters: Waiters,
    pub outcomes: Outcomes,
    /// Under their outbox row's number, when the commit itself answered (see `committed_events`).
    pub events: Option<AppendedEvents>,
    /// Whether any entry was written: a batch that wrote nothing needs no sync.
    pub wrote: bool,
}

impl Answer {
    /// The buyers wait for the answers, the relay for the events: answers first.
    fn deliver(self, feed: &CommittedFeed) {
        self.waiters.answer(self.outcomes);
        match self.events {
            Some(events) => feed.push(events),
            None if self.wrote => feed.wake(),
            None => {}
        }
    }

    /// The batch did not survive: each entry it wrote is answered as not written.
    fn lost(mut self) -> Self {
        let why = JournalError::Unavailable("the batch was lost with the database's unflushed log".into());
        for outcome in self.outcomes.iter_mut().filter(|outcome| outcome.is_ok()) {
            *outcome = Err(why.clone());
        }
        self.events = None;
        self.wrote = false;
        self
    }
}

/// A database's log, made durable apart from the commits that wrote it.
pub(super) trait Log: Send {
    /// Makes durable every commit that returned before the call.
    fn sync(&mut self) -> anyhow::Result<()>;

    /// After a failed sync: the number of the last batch whose commit is now durable. An error
    /// means storage does not answer yet; it is asked again.
    fn recover(&mut self) -> anyhow::Result<i64>;
}

pub(super) enum Item {
    Batch(Answer),
    /// Answered once every batch sent before it has been.
    Settled(mpsc::Sender<()>),
    /// Answered after a sync that began after it was sent, batches or not (see [`LogBarrier`]).
    Synced(mpsc::Sender<()>),
}

/// Where the journal sends each batch it wrote (the writer, or the supervisor for one it resolved).
pub(super) enum Answers {
    /// The commit was durable when it returned (SQLite outside WAL mode syncs as it commits).
    AtOnce(Arc<CommittedFeed>),
    /// To the thread that syncs the log, then answers.
    AfterSync(mpsc::SyncSender<Item>),
}

impl Answers {
    /// Starts the thread that syncs `log`, then answers, in the order batches were sent. A sync
    /// that does not return (a hung disk, a database away) shows in `health`: nothing it holds
    /// can be answered meanwhile.
    pub fn after_sync(
        mut log: Box<dyn Log>,
        feed: Arc<CommittedFeed>,
        health: Arc<JournalHealth>,
    ) -> std::io::Result<Self> {
        let (queue, inbox) = mpsc::sync_channel::<Item>(UNSYNCED_BATCHES);
        let seconds = metrics::histogram!("livecart_journal_sync_seconds");
        let batches_per_sync = metrics::histogram!("livecart_journal_batches_per_sync");
        thread::Builder::new()
            .name("livecart-fsync".into())
            .spawn(move || {
                while let Ok(first) = inbox.recv() {
                    let group: Vec<Item> = std::iter::once(first).chain(inbox.try_iter()).collect();
                    let wrote = group.iter().filter(|item| matches!(item, Item::Batch(a) if a.wrote)).count();
                    let asked = group.iter().any(|item| matches!(item, Item::Synced(_)));
                    let mut durable_up_to = i64::MAX;
                    if wrote > 0 || asked {
                        let started = Instant::now();
                        health.syncing_since_ms.store(now_ms(), Ordering::Relaxed);
                        if let Err(err) = log.sync() {
                            tracing::error!(error = %err, batches = wrote, "the journal's log could not be made durable; finding out which batches it holds");
                            durable_up_to = recover(log.as_mut());
                        }
                        health.syncing_since_ms.store(0, Ordering::Relaxed);
                        seconds.record(started.elapsed().as_secs_f64());
                        if wrote > 0 {
                            batches_per_sync.record(wrote as f64);
                        }
                    }
                    for item in group {
                        match item {
                            Item::Batch(answer) if answer.batch_no > durable_up_to => answer.lost().deliver(&feed),
                            Item::Batch(answer) => answer.deliver(&feed),
                            Item::Settled(done) | Item::Synced(done) => {
                                let _ = done.send(());
                            }
                        }
                    }
                }
            })?;
        Ok(Self::AfterSync(queue))
    }

    pub fn send(&self, answer: Answer) {
        match self {
            Self::AtOnce(feed) => answer.deliver(feed),
            // A stopped sync thread drops the answer, whose waiters are then told it was not
            // written: only a panic there stops it.
            Self::AfterSync(queue) => {
                let _ = queue.send(Item::Batch(answer));
            }
        }
    }

    /// A handle for readers that must not pass on what may not be durable yet.
    pub fn barrier(&self) -> LogBarrier {
        match self {
            Self::AtOnce(_) => LogBarrier(None),
            Self::AfterSync(queue) => LogBarrier(Some(queue.clone())),
        }
    }

    /// Returns once every batch sent so far is answered: before the journal takes a new
    /// connection, whose batches would otherwise move the number a failed sync reads.
    pub fn settle(&self) {
        if let Self::AfterSync(queue) = self {
            wait_for(queue, Item::Settled);
        }
    }

    /// Whether the commit is durable when it returns, so the journal's connection must sync.
    pub fn sync_on_commit(&self) -> bool {
        matches!(self, Self::AtOnce(_))
    }
}

/// Sends the sync thread a marker and waits until it is answered; `false` if the thread is gone.
fn wait_for(queue: &mpsc::SyncSender<Item>, marker: fn(mpsc::Sender<()>) -> Item) -> bool {
    let (done, answered) = mpsc::channel();
    queue.send(marker(done)).is_ok() && answered.recv().is_ok()
}

/// Makes durable everything committed before the call: for a reader of the tables, which can
/// see a batch's rows between its commit and its sync. Read first, then pass the barrier, then
/// act on what was read: every row read committed before the sync began.
#[derive(Clone)]
pub struct LogBarrier(Option<mpsc::SyncSender<Item>>);

impl LogBarrier {
    /// Blocks until a sync that began after the call has returned. `false` when the journal has
    /// stopped, and nothing can be said about what it wrote last.
    pub fn pass(&self) -> bool {
        self.0.as_ref().is_none_or(|queue| wait_for(queue, Item::Synced))
    }
}

/// Asks `log` until it knows which batches are durable.
fn recover(log: &mut dyn Log) -> i64 {
    let mut pause = Duration::from_millis(50);
    loop {
        match log.recover() {
            Ok(last_batch) => {
                tracing::warn!(batch.last_durable = last_batch, "the journal's log is durable again");
                return last_batch;
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot tell yet which journal batches are durable; retrying");
                thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// The write-ahead log of a SQLite database, opened when first synced and kept open: the file
/// stays the same while any connection holds the database, and the journal's always does.
pub(super) struct WalFile {
    path: PathBuf,
    file: Option<File>,
}

impl WalFile {
    pub fn of(database: &std::path::Path) -> Self {
        let mut path = database.as_os_str().to_owned();
        path.push("-wal");
        Self {
            path: PathBuf::from(path),
            file: None,
        }
    }
}

impl Log for WalFile {
    /// `fdatasync` of the log: the frames of every commit returned before this call are on disk.
    fn sync(&mut self) -> anyhow::Result<()> {
        let file = match &mut self.file {
            Some(file) => file,
            none => none.insert(File::open(&self.path)?),
        };
        Ok(file.sync_data()?)
    }

    fn recover(&mut self) -> anyhow::Result<i64> {
        tracing::error!(log = %self.path.display(), "the SQLite log could not be synced: its last commits may not be on disk and cannot be answered; stopping the process so a restart reads what the disk holds");
        std::process::abort();
    }
}

/// PostgreSQL's log, flushed by a transaction of its own on a connection of its own.
pub(super) struct PgLog {
    connector: Connector,
    writer_id: String,
    conn: Option<DbConnection>,
}

impl PgLog {
    pub fn new(connector: Connector, writer_id: &str) -> Self {
        Self {
            connector,
            writer_id: writer_id.to_owned(),
            conn: None,
        }
    }

    fn connection(&mut self) -> anyhow::Result<&mut DbConnection> {
        Ok(match &mut self.conn {
            Some(conn) => conn,
            none => none.insert(self.connector.connect()?),
        })
    }

    /// A committed transaction that wrote one record (an empty logical message, which no table
    /// keeps): the server flushes its log up to that commit, so every commit before it too. A
    /// transaction that only takes an id writes nothing, and its commit flushes nothing.
    fn flush(&mut self) -> anyhow::Result<()> {
        let flushed = self
            .connection()?
            .batch_execute("SELECT pg_logical_emit_message(true, 'livecart.journal', '')");
        if flushed.is_err() {
            self.conn = None;
        }
        Ok(flushed?)
    }
}

impl Log for PgLog {
    fn sync(&mut self) -> anyhow::Result<()> {
        self.flush()
    }

    fn recover(&mut self) -> anyhow::Result<i64> {
        self.conn = None;
        // Read first: every batch at or below the number read committed before the flush.
        let writer_id = self.writer_id.clone();
        let read = leases::writer_position(self.connection()?, &writer_id);
        let (last_batch, _) = read.inspect_err(|_| self.conn = None)?;
        self.flush()?;
        Ok(last_batch)
    }
}

impl Drop for WalFile {
    fn drop(&mut self) {
        // Never closed: closing any descriptor of a file drops every POSIX lock this process
        // holds on it, SQLite's included (as the checkpointer's copy of the database file).
        if let Some(file) = self.file.take() {
            std::mem::forget(file);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{told, Recorder};
    use super::*;
    use livecart_actors::journal::Listener;
    use std::sync::Mutex;

    fn answer(batch_no: i64, listener: &Listener, wrote: bool) -> Answer {
        Answer {
            batch_no,
            waiters: Waiters(vec![listener.clone()]),
            outcomes: vec![if wrote { Ok(()) } else { Err(JournalError::Fenced) }],
            events: None,
            wrote,
        }
    }

    /// A log whose syncs wait for the test's go, break for good when told, and recover to a
    /// given batch.
    struct GatedLog {
        go: mpsc::Receiver<bool>,
        syncs: Arc<Mutex<usize>>,
        broken: bool,
        durable_up_to: i64,
    }

    impl Log for GatedLog {
        fn sync(&mut self) -> anyhow::Result<()> {
            *self.syncs.lock().expect("syncs") += 1;
            if !self.broken && self.go.recv() != Ok(true) {
                self.broken = true;
            }
            match self.broken {
                true => anyhow::bail!("the log broke"),
                false => Ok(()),
            }
        }

        fn recover(&mut self) -> anyhow::Result<i64> {
            Ok(self.durable_up_to)
        }
    }

    struct Harness {
        answers: Answers,
        health: Arc<JournalHealth>,
        go: mpsc::Sender<bool>,
        syncs: Arc<Mutex<usize>>,
        recorder: Arc<Recorder>,
        listener: Listener,
    }

    fn harness(durable_up_to: i64) -> Harness {
        let (go, gate) = mpsc::channel();
        let syncs = Arc::new(Mutex::new(0));
        let log = GatedLog {
            go: gate,
            syncs: syncs.clone(),
            broken: false,
            durable_up_to,
        };
        let health = Arc::new(JournalHealth::default());
        let answers = Answers::after_sync(Box::new(log), Arc::new(CommittedFeed::default()), health.clone())
            .expect("sync thread");
        let recorder = Arc::new(Recorder::default());
        let listener: Listener = recorder.clone();
        Harness {
            answers,
            health,
            go,
            syncs,
            recorder,
            listener,
        }
    }

    impl Harness {
        fn syncs(&self) -> usize {
            *self.syncs.lock().expect("syncs")
        }
    }

    fn eventually(what: impl Fn() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if what() {
                return true;
            }
            thread::sleep(Duration::from_millis(2));
        }
        false
    }

    #[test]
    fn a_written_batch_is_answered_only_after_a_sync_that_began_after_it() {
        let h = harness(0);
        h.answers.send(answer(1, &h.listener, true));
        assert!(eventually(|| h.syncs() == 1), "the sync starts");
        // Sent while the first sync runs: that sync may not hold their commits.
        h.answers.send(answer(2, &h.listener, true));
        h.answers.send(answer(3, &h.listener, true));
        thread::sleep(Duration::from_millis(50));
        assert!(
            told(&h.recorder).is_empty(),
            "nothing is answered before its sync returns"
        );

        h.go.send(true).expect("go");
        assert!(
            eventually(|| told(&h.recorder).len() == 1),
            "the first batch after its sync"
        );
        assert!(eventually(|| h.syncs() == 2), "the other two share the next sync");
        thread::sleep(Duration::from_millis(50));
        assert_eq!(
            told(&h.recorder).len(),
            1,
            "the later batches wait for a sync of their own"
        );

        h.go.send(true).expect("go");
        assert!(eventually(|| told(&h.recorder).len() == 3));
        assert_eq!(h.syncs(), 2);
        assert!(told(&h.recorder).iter().all(Result::is_ok));
    }

    #[test]
    fn a_sync_that_does_not_return_makes_the_journal_unhealthy_until_it_does() {
        let h = harness(0);
        let grace = Duration::from_millis(100);
        assert!(h.health.is_healthy(grace));
        h.answers.send(answer(1, &h.listener, true));
        assert!(eventually(|| h.syncs() == 1));
        thread::sleep(grace * 2);
        assert!(!h.health.is_healthy(grace), "a sync stuck past the grace shows");
        h.go.send(true).expect("go");
        assert!(eventually(|| told(&h.recorder).len() == 1));
        assert!(h.health.is_healthy(grace), "healthy again once it returns");
    }

    #[test]
    fn the_barrier_returns_only_after_a_sync_that_began_after_it() {
        let h = harness(0);
        let barrier = h.answers.barrier();
        let passed = Arc::new(Mutex::new(false));
        let waiting = thread::spawn({
            let passed = passed.clone();
            move || {
                let ok = barrier.pass();
                *passed.lock().expect("passed") = ok;
            }
        });
        assert!(
            eventually(|| h.syncs() == 1),
            "a barrier syncs even when no batch waits"
        );
        thread::sleep(Duration::from_millis(50));
        assert!(!*passed.lock().expect("passed"), "not before the sync returns");
        h.go.send(true).expect("go");
        waiting.join().expect("barrier");
        assert!(*passed.lock().expect("passed"));
    }

    #[test]
    fn a_batch_that_wrote_nothing_is_answered_without_a_sync() {
        let h = harness(0);
        h.answers.send(answer(1, &h.listener, false));
        assert!(eventually(|| told(&h.recorder).len() == 1));
        assert_eq!(h.syncs(), 0);
    }

    #[test]
    fn after_a_failed_sync_only_the_batches_the_log_still_holds_are_answered_as_written() {
        // The server restarted and kept batches up to 4: 5 was lost with its unflushed log.
        let h = harness(4);
        h.answers.send(answer(4, &h.listener, true));
        h.answers.send(answer(5, &h.listener, true));
        assert!(eventually(|| h.syncs() == 1));
        h.go.send(false).expect("fail");
        assert!(eventually(|| told(&h.recorder).len() == 2));
        let outcomes = told(&h.recorder);
        assert!(outcomes[0].is_ok(), "batch 4 is durable: {outcomes:?}");
        assert!(
            matches!(outcomes[1], Err(JournalError::Unavailable(_))),
            "batch 5 is answered as not written: {outcomes:?}"
        );
    }

    #[test]
    fn settle_returns_once_every_batch_sent_before_it_is_answered() {
        let h = harness(0);
        h.answers.send(answer(1, &h.listener, true));
        let settled = Arc::new(Mutex::new(false));
        let waiting = thread::spawn({
            let answers = match &h.answers {
                Answers::AfterSync(queue) => Answers::AfterSync(queue.clone()),
                Answers::AtOnce(_) => unreachable!("a sync thread was started"),
            };
            let settled = settled.clone();
            move || {
                answers.settle();
                *settled.lock().expect("settled") = true;
            }
        });
        thread::sleep(Duration::from_millis(50));
        assert!(!*settled.lock().expect("settled"), "batch 1 is not answered yet");
        h.go.send(true).expect("go");
        waiting.join().expect("settle");
        assert_eq!(told(&h.recorder).len(), 1);
    }

    #[test]
    fn the_log_of_a_database_file_is_synced_through_its_own_path() {
        let dir = std::env::temp_dir().join(format!("livecart-wal-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("dir");
        let database = dir.join("live.db");
        let mut wal = WalFile::of(&database);
        assert_eq!(wal.path, dir.join("live.db-wal"));
        assert!(
            wal.sync().is_err(),
            "no log yet: the error says so, nothing pretends to sync"
        );
        std::fs::write(dir.join("live.db-wal"), b"frames").expect("log");
        wal.sync().expect("a log that exists syncs");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
