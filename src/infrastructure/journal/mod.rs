//! The group-committing journal: one batch in flight, one transaction per batch.
//!
//! Inventory actors append entries from any thread into a bounded queue (a full queue answers
//! `Overloaded` at once, so a stalled database turns into fast 503s, not a growing backlog). The
//! dispatcher thread takes every entry queued when it is free (up to `max_batch`) and hands the
//! batch to a writer thread that owns the connection; while one batch commits the next queues up,
//! so batches grow with the load by themselves and no timer adds latency to a quiet system.
//!
//! Inside the transaction each entry's fence (room and lease epoch) is checked against the room's
//! lease row, held with `FOR SHARE` on PostgreSQL so a takeover waits for the batch: an entry of a
//! stale owner is refused (`Fenced`) and not written. The transaction also records the batch's
//! number, and which entries it refused, in the writer's row.
//!
//! A batch that fails, or does not finish within `commit_timeout`, has an unknown outcome: the
//! connection may have broken after COMMIT was sent. Nobody is answered until it is resolved: on
//! PostgreSQL the old writer's server session is terminated (so it cannot commit later), then the
//! writer's row is read on a fresh connection. The batch landed exactly when the row carries its
//! number. Only then are the waiters answered, so an actor undoes a reservation only when its
//! entry is known not to be durable.
//!
//! Waiters are answered per batch, not per entry: each actor with entries in the batch is told
//! once, with its entries' outcomes in the order it appended them (`tell_listeners`). `append`
//! only queues, so an order costs no channel or future of its own here. The writer's connection
//! commits without waiting for the disk; a batch is answered once the log that holds it has been
//! made durable, by a thread of its own while the next batch is written (see [`answers`]).

mod answers;

pub use answers::LogBarrier;

use super::committed_feed::CommittedFeed;
use super::db::{Connector, DbConnection, TurnHolder};
use super::repos::buyer_index::{self, Filing, Unfiled};
use super::repos::outbox::{AppendedEvents, RelayPosition};
use super::repos::payments::{self, PaymentState};
use super::repos::{catalog, leases, orders, outbox};
use answers::{Answer, Answers, PgLog, WalFile};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use livecart_actors::events::DomainEvent;
use livecart_actors::journal::{tell_listeners, Journal, JournalEntry, JournalError, Listener, Outcome};
use livecart_actors::lease::Fence;
use livecart_actors::order::Order;
use livecart_actors::order::OrderStatus::{self, Cancelled, Expired, Paid, Refunded, Reserved};
use livecart_actors::ListingId;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, TrySendError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// How the journal batches and how long it trusts a commit.
#[derive(Debug, Clone, Copy)]
pub struct JournalSettings {
    /// Most entries in one transaction.
    pub max_batch: usize,
    /// Entries waiting beyond this are refused at once with `Overloaded`.
    pub queue_capacity: usize,
    /// A commit not finished by then is treated as ambiguous and resolved.
    pub commit_timeout: Duration,
}

struct Pending {
    fence: Fence,
    entry: JournalEntry,
    /// The actor to tell the entry's outcome.
    listener: Listener,
}

/// The journal connection's page cache, in KiB: the hot pages of a sale (the buyers' key index
/// leaves of a thousand buyers, the tails of the append-only tables) and not many more.
///
/// A bigger cache costs every commit, not only memory. SQLite's page cache looks through its
/// whole hash table at the end of a transaction whenever it has seen a page number past the
/// file's end since the last one, and a B-tree split that swaps two pages' numbers parks one of
/// them at the lock-byte page (page 262,145 with 4 KiB pages) for a moment: in a database under
/// 1 GiB almost every batch that split an index page paid a walk of the whole table. At 64 MiB
/// (16,384 hash slots, 6,000 pages held) that walk was 7 % of the server's CPU in a flash sale
/// (perf; the call found with gdb), and an HTTP order cost 7–16 % more CPU than at 8 MiB
/// (docs/BENCHMARKS.md, "The journal's page cache shrinks").
const JOURNAL_CACHE_KIB: u32 = 8 * 1024;

/// What `/readyz` reads: is the dispatcher alive, since when is a batch unresolved, and since
/// when has the log's sync not returned.
#[derive(Debug, Default)]
pub struct JournalHealth {
    stopped: AtomicBool,
    /// Unix millis when the batch now unresolved started resolving; 0 when none is.
    resolving_since_ms: AtomicI64,
    /// Unix millis when the sync now running began (a recovery included); 0 when none runs.
    syncing_since_ms: AtomicI64,
}

impl JournalHealth {
    /// Healthy while the dispatcher runs and neither a batch has been unresolved nor a sync of
    /// the log has run for longer than `grace` (batches answer only after their sync).
    pub fn is_healthy(&self, grace: Duration) -> bool {
        if self.stopped.load(Ordering::Relaxed) {
            return false;
        }
        let within = |since: &AtomicI64| {
            let since = since.load(Ordering::Relaxed);
            since == 0 || now_ms().saturating_sub(since) < grace.as_millis() as i64
        };
        within(&self.resolving_since_ms) && within(&self.syncing_since_ms)
    }
}

/// The journal's sending side; cheap to share between actors.
pub struct SqlJournal {
    queue: mpsc::SyncSender<Pending>,
    health: Arc<JournalHealth>,
    barrier: LogBarrier,
}

impl SqlJournal {
    /// Starts the dispatcher thread. Every batch that wrote events hands them to `feed`, so the
    /// outbox relay publishes them without polling or reading them back; each batch also saves
    /// the relay's `position` when it moved (see [`RelayPosition`]).
    pub fn start(
        connector: Connector,
        settings: JournalSettings,
        feed: Arc<CommittedFeed>,
        position: Arc<RelayPosition>,
    ) -> anyhow::Result<Self> {
        let writer_id = uuid::Uuid::new_v4().to_string();
        let health = Arc::new(JournalHealth::default());
        let answers = match connector.sqlite_file() {
            None => {
                let log = Box::new(PgLog::new(connector.clone(), &writer_id));
                Answers::after_sync(log, feed, health.clone())?
            }
            Some(database) if logs_ahead(&connector)? => {
                Answers::after_sync(Box::new(WalFile::of(database)), feed, health.clone())?
            }
            Some(_) => Answers::AtOnce(feed),
        };
        let barrier = answers.barrier();
        let writer = Writer::open(&connector, &writer_id, &position, answers.sync_on_commit())?;
        let (queue, inbox) = mpsc::sync_channel(settings.queue_capacity.max(1));
        let dispatcher = Dispatcher {
            connector,
            writer_id,
            writer: Some(writer),
            position,
            settings,
            answers,
            health: health.clone(),
            batch_no: 0,
        };
        thread::Builder::new()
            .name("livecart-journal".into())
            .spawn(move || dispatcher.run(inbox))?;
        Ok(Self { queue, health, barrier })
    }

    pub fn health(&self) -> Arc<JournalHealth> {
        self.health.clone()
    }

    /// For the outbox relay's reads of the table (see [`LogBarrier`]).
    pub fn barrier(&self) -> LogBarrier {
        self.barrier.clone()
    }
}

impl Journal for SqlJournal {
    fn append(&self, fence: Fence, entry: JournalEntry, listener: &Listener) -> Result<(), JournalError> {
        let pending = Pending {
            fence,
            entry,
            listener: listener.clone(),
        };
        match self.queue.try_send(pending) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                metrics::counter!("livecart_journal_overloaded_total").increment(1);
                Err(JournalError::Overloaded)
            }
            Err(TrySendError::Disconnected(_)) => Err(stopped()),
        }
    }
}

/// Whether the SQLite database keeps a write-ahead log, which the journal can commit to without
/// a sync and then sync apart (see [`answers`]). In any other journal mode it syncs as it commits.
fn logs_ahead(connector: &Connector) -> anyhow::Result<bool> {
    #[derive(QueryableByName)]
    struct Mode {
        #[diesel(sql_type = Text)]
        journal_mode: String,
    }
    let DbConnection::Sqlite(mut conn) = connector.connect()? else {
        return Ok(false);
    };
    let mode: Mode = diesel::sql_query("PRAGMA journal_mode").get_result(&mut conn)?;
    Ok(mode.journal_mode.eq_ignore_ascii_case("wal"))
}

fn stopped() -> JournalError {
    JournalError::Unavailable("the journal has stopped".into())
}

/// The actors waiting for one batch (or for the entries still queued when the dispatcher ends).
/// Dropped unanswered, as when the dispatcher panics, it tells them their entries were not
/// written: nothing of theirs is, since whatever the dispatcher wrote it answered.
struct Waiters(Vec<Listener>);

impl Waiters {
    fn answer(mut self, outcomes: Vec<Outcome>) {
        tell_listeners(std::mem::take(&mut self.0), outcomes);
    }
}

impl Drop for Waiters {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            let outcomes = vec![Err(stopped()); self.0.len()];
            tell_listeners(std::mem::take(&mut self.0), outcomes);
        }
    }
}

/// The dispatcher's end of the queue. However the dispatcher ends, the entries still queued are
/// answered as not written (a dropped receiver would drop them silently, and their actors would
/// wait for outcomes that never come).
struct Inbox(mpsc::Receiver<Pending>);

impl Drop for Inbox {
    fn drop(&mut self) {
        let left: Vec<Listener> = self.0.try_iter().map(|pending| pending.listener).collect();
        drop(Waiters(left));
    }
}

struct StoppedOnExit(Arc<JournalHealth>);

impl Drop for StoppedOnExit {
    fn drop(&mut self) {
        self.0.stopped.store(true, Ordering::Relaxed);
        // The dispatcher also ends, normally, when the app shuts down and nothing can send to
        // it any more: only a panic is an error.
        if std::thread::panicking() {
            tracing::error!("the journal stopped; orders are refused until the process restarts");
        } else {
            tracing::debug!("the journal stopped: the app is shutting down");
        }
    }
}

type Outcomes = Vec<Result<(), JournalError>>;
type Batch = Arc<Vec<(Fence, JournalEntry)>>;

/// A committed batch: each entry's outcome, and the number of the outbox row its events went in
/// (one event per entry written, in order; no row when none was).
struct Committed {
    outcomes: Outcomes,
    seq: Option<i64>,
}

/// A writer thread with its own connection, and the server session it runs in (PostgreSQL).
struct Writer {
    jobs: mpsc::Sender<(i64, Batch)>,
    done: mpsc::Receiver<QueryResult<Committed>>,
    session: Option<leases::Session>,
}

impl Writer {
    /// `sync_on_commit` false: a connection that commits without waiting for the disk, whose
    /// batches are answered once [`answers`] has made the log durable.
    fn open(
        connector: &Connector,
        writer_id: &str,
        position: &Arc<RelayPosition>,
        sync_on_commit: bool,
    ) -> anyhow::Result<Writer> {
        let mut conn = connector.connect()?;
        if !sync_on_commit {
            match &mut conn {
                DbConnection::Sqlite(c) => c.batch_execute("PRAGMA synchronous = NORMAL;")?,
                DbConnection::Pg(c) => c.batch_execute("SET synchronous_commit = off")?,
            }
        }
        if let DbConnection::Sqlite(c) = &mut conn {
            // Each order lands on a random page of the buyers' key index (one buyer's orders
            // sit together, and buyers come in any order), so the journal re-reads pages unless
            // its connection keeps them. It keeps them while no other connection commits (see
            // `RelayPosition`), with the file mapped so a page not held costs no `pread`.
            c.batch_execute(&format!(
                "PRAGMA cache_size = -{JOURNAL_CACHE_KIB}; PRAGMA mmap_size = 1073741824;"
            ))?;
        }
        let session = leases::session_of(&mut conn)?;
        leases::register_writer(&mut conn, writer_id)?;
        let unfiled = connector.unfiled();
        {
            // What the last connection left unfiled (a sweep cut short, a crash), before any batch.
            let writers = connector.writers();
            let _turn = writers.turn(TurnHolder::Journal);
            buyer_index::file_everything(&mut conn, &unfiled)?;
        }
        let (jobs, job_inbox) = mpsc::channel::<(i64, Batch)>();
        let (done_tx, done) = mpsc::channel();
        let writer_id = writer_id.to_owned();
        let writers = connector.writers();
        let position = position.clone();
        thread::Builder::new()
            .name("livecart-journal-writer".into())
            .spawn(move || {
                let mut filing = Filing::default();
                for (batch_no, batch) in job_inbox {
                    let outcome = {
                        let _turn = writers.turn(TurnHolder::Journal);
                        let started = Instant::now();
                        let outcome = commit(
                            &mut conn,
                            &writer_id,
                            batch_no,
                            &batch,
                            &position,
                            &mut filing,
                            &unfiled,
                        );
                        metrics::histogram!("livecart_journal_commit_seconds").record(started.elapsed().as_secs_f64());
                        outcome.map(|(committed, saved)| {
                            if let Some(seq) = saved {
                                position.saved(seq);
                            }
                            committed
                        })
                    };
                    let failed = outcome.is_err();
                    if done_tx.send(outcome).is_err() || failed {
                        // A failed connection is never reused: the next batch gets a fresh one.
                        return;
                    }
                }
            })?;
        Ok(Writer { jobs, done, session })
    }
}

struct Dispatcher {
    connector: Connector,
    writer_id: String,
    writer: Option<Writer>,
    position: Arc<RelayPosition>,
    settings: JournalSettings,
    answers: Answers,
    health: Arc<JournalHealth>,
    batch_no: i64,
}

impl Dispatcher {
    fn run(mut self, inbox: mpsc::Receiver<Pending>) {
        // However the thread ends (a panic included), `/readyz` reports the journal down, and
        // every entry still queued is answered.
        let _stopped = StoppedOnExit(self.health.clone());
        let inbox = Inbox(inbox);
        let max_batch = self.settings.max_batch.max(1);
        let mut batch: Vec<Pending> = Vec::with_capacity(max_batch);
        while let Ok(first) = inbox.0.recv() {
            batch.push(first);
            while batch.len() < max_batch {
                match inbox.0.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            metrics::histogram!("livecart_journal_batch_size").record(batch.len() as f64);
            let (listeners, entries): (Vec<_>, Vec<_>) =
                batch.drain(..).map(|p| (p.listener, (p.fence, p.entry))).unzip();
            let waiters = Waiters(listeners);
            let batch = Arc::new(entries);
            let (outcomes, seq) = self.write(batch.clone());
            let written: Vec<bool> = outcomes.iter().map(Result::is_ok).collect();
            // A resolved batch's events are in the table only.
            let events = seq.and_then(|seq| committed_events(&batch, &written, seq));
            self.answers.send(Answer {
                batch_no: self.batch_no,
                waiters,
                outcomes,
                events,
                wrote: written.contains(&true),
            });
        }
    }

    /// Writes one batch and returns each entry's outcome, known for certain, and the number of
    /// the outbox row of its events when the commit itself answered and it wrote any (a resolved
    /// batch's are in the table only).
    fn write(&mut self, batch: Batch) -> (Outcomes, Option<i64>) {
        self.batch_no += 1;
        let batch_no = self.batch_no;
        let failure = |why: String| (vec![Err(JournalError::Unavailable(why)); batch.len()], None);
        if self.writer.is_none() {
            // A new connection's batches must not commit before a failed sync has read which
            // batches the database holds (see `answers`).
            self.answers.settle();
            let sync_on_commit = self.answers.sync_on_commit();
            match Writer::open(&self.connector, &self.writer_id, &self.position, sync_on_commit) {
                Ok(writer) => self.writer = Some(writer),
                Err(err) => {
                    // Nothing was sent: the batch certainly did not land.
                    tracing::error!(error = %err, batch.size = batch.len(), "journal cannot connect; batch refused");
                    metrics::counter!("livecart_journal_failed_batches_total").increment(1);
                    return failure(err.to_string());
                }
            }
        }
        let Some(writer) = self.writer.as_ref() else {
            return failure("no journal connection".into());
        };
        if writer.jobs.send((batch_no, batch.clone())).is_err() {
            self.writer = None;
            return failure("the journal writer stopped".into());
        }
        let why = match writer.done.recv_timeout(self.settings.commit_timeout) {
            Ok(Ok(committed)) => return (committed.outcomes, committed.seq),
            Ok(Err(err)) => err.to_string(),
            Err(RecvTimeoutError::Timeout) => format!("no answer within {:?}", self.settings.commit_timeout),
            Err(RecvTimeoutError::Disconnected) => "the journal writer died".to_owned(),
        };
        metrics::counter!("livecart_journal_failed_batches_total").increment(1);
        tracing::error!(error = %why, batch.no = batch_no, batch.size = batch.len(), "journal batch failed; resolving its outcome before answering");
        // The writer is abandoned whatever happened: its connection is suspect.
        let session = self.writer.take().and_then(|w| w.session);
        (self.resolve(batch_no, &batch, session), None)
    }

    /// Finds out for certain whether the batch landed, retrying until storage answers.
    fn resolve(&mut self, batch_no: i64, batch: &Batch, session: Option<leases::Session>) -> Outcomes {
        self.health.resolving_since_ms.store(now_ms(), Ordering::Relaxed);
        let started = Instant::now();
        let mut pause = Duration::from_millis(50);
        let outcomes = loop {
            match self.look_up(batch_no, batch, session) {
                Ok(outcomes) => break outcomes,
                Err(err) => {
                    tracing::warn!(error = %err, batch.no = batch_no, waited_ms = started.elapsed().as_millis() as u64, "cannot resolve the journal batch yet; retrying");
                    thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
            }
        };
        self.health.resolving_since_ms.store(0, Ordering::Relaxed);
        let landed = outcomes.iter().any(Result::is_ok);
        tracing::warn!(batch.no = batch_no, batch.landed = landed, "journal batch resolved");
        outcomes
    }

    fn look_up(&self, batch_no: i64, batch: &Batch, session: Option<leases::Session>) -> anyhow::Result<Outcomes> {
        let mut conn = self.connector.connect()?;
        if let (Some(session), DbConnection::Pg(pg)) = (session, &mut conn) {
            // The old session could still commit if COMMIT is yet to reach it: end it first.
            if !leases::terminate_session(pg, session)? {
                anyhow::bail!("the old journal session has not ended yet");
            }
        }
        let (last_batch, refused) = leases::writer_position(&mut conn, &self.writer_id)?;
        if last_batch != batch_no {
            let why = "the batch did not commit".to_owned();
            return Ok(vec![Err(JournalError::Unavailable(why)); batch.len()]);
        }
        let refused = parse_refused(&refused);
        Ok((0..batch.len())
            .map(|i| match refused.get(&i) {
                Some(err) => Err(err.clone()),
                None => Ok(()),
            })
            .collect())
    }
}

/// Writes a batch in one transaction; per entry, `Ok` or why that entry alone was refused, with
/// the events' sequence numbers; and the relay's position it saved, if that had moved. On SQLite
/// the batch also files a stretch of keyless orders in the buyers' index (`buyer_index`).
fn commit(
    conn: &mut DbConnection,
    writer_id: &str,
    batch_no: i64,
    batch: &[(Fence, JournalEntry)],
    position: &RelayPosition,
    filing: &mut Filing,
    unfiled: &Unfiled,
) -> QueryResult<(Committed, Option<i64>)> {
    let written = conn.transaction(|conn| {
        let rooms: HashSet<_> = batch.iter().map(|(fence, _)| fence.room_id).collect();
        let epochs = leases::begin_batch(conn, writer_id, batch_no, &rooms)?;
        let current = |fence: &Fence| epochs.get(&fence.room_id) == Some(&fence.epoch);

        let placed: Vec<&Order> = batch
            .iter()
            .filter(|(fence, _)| current(fence))
            .filter_map(|(_, entry)| match entry {
                JournalEntry::OrderPlaced { order, .. } => Some(order),
                _ => None,
            })
            .collect();
        let key_conflicts = orders::insert_new(conn, &placed)?;
        filing.step(conn, &placed, unfiled)?;

        let mut events: Vec<&DomainEvent> = Vec::with_capacity(batch.len());
        let mut results = Vec::with_capacity(batch.len());
        for (fence, entry) in batch {
            if !current(fence) {
                results.push(Err(JournalError::Fenced));
                continue;
            }
            let result = match entry {
                JournalEntry::OrderPlaced { order, event } => {
                    if key_conflicts.contains(&order.id) {
                        Err(JournalError::KeyConflict)
                    } else {
                        events.push(event);
                        Ok(())
                    }
                }
                JournalEntry::OrderCancelled { order_id, at, event } => {
                    orders::mark_status(conn, *order_id, &[Reserved], Cancelled, *at)?;
                    events.push(event);
                    Ok(())
                }
                JournalEntry::OrderExpired { order_id, at, event } => {
                    orders::mark_status(conn, *order_id, &[Reserved], Expired, *at)?;
                    events.push(event);
                    Ok(())
                }
                JournalEntry::OrderPaid {
                    order_id,
                    payment_id,
                    late,
                    at,
                    event,
                } => {
                    let from: &[OrderStatus] = if *late { &[Expired, Cancelled] } else { &[Reserved] };
                    orders::mark_status(conn, *order_id, from, Paid, *at)?;
                    payments::settle(conn, *payment_id, PaymentState::Succeeded, *at)?;
                    events.push(event);
                    Ok(())
                }
                JournalEntry::OrderRefunded {
                    order_id,
                    payment_id,
                    at,
                    event,
                } => {
                    orders::mark_status(conn, *order_id, &[Expired, Cancelled], Refunded, *at)?;
                    payments::settle(conn, *payment_id, PaymentState::Refunded, *at)?;
                    events.push(event);
                    Ok(())
                }
                JournalEntry::StockAdded {
                    listing_id,
                    added,
                    event,
                } => {
                    catalog::add_stock(conn, *listing_id, *added)?;
                    events.push(event);
                    Ok(())
                }
            };
            results.push(result);
        }
        let seq = outbox::append_advancing(conn, &events, &written_per_listing(batch, &results))?;
        let refused = format_refused(&results);
        if !refused.is_empty() {
            leases::record_batch(conn, writer_id, batch_no, &refused)?;
        }
        let saved = outbox::save_position(conn, position)?;
        let committed = Committed { outcomes: results, seq };
        Ok((committed, saved))
    });
    if written.is_ok() {
        filing.committed(unfiled);
    }
    written
}

/// The events a committed batch wrote, under the number of their outbox row `seq`: each entry
/// written wrote its one event, in entry order. `None` when it wrote none.
fn committed_events(batch: &[(Fence, JournalEntry)], written: &[bool], seq: i64) -> Option<AppendedEvents> {
    let events: Vec<DomainEvent> = batch
        .iter()
        .zip(written)
        .filter(|(_, written)| **written)
        .map(|((_, entry), _)| entry.event().clone())
        .collect();
    (!events.is_empty()).then_some(AppendedEvents { seq, events })
}

/// How many entries of each listing a batch wrote: what its journal position advances by.
fn written_per_listing(
    batch: &[(Fence, JournalEntry)],
    results: &[Result<(), JournalError>],
) -> HashMap<ListingId, u32> {
    let mut written: HashMap<ListingId, u32> = HashMap::new();
    for ((_, entry), result) in batch.iter().zip(results) {
        if let (Ok(()), Some(listing_id)) = (result, entry.listing_id()) {
            *written.entry(listing_id).or_insert(0) += 1;
        }
    }
    written
}

/// `3:F,7:K`: the entries a batch refused, by index, so a resolved batch answers each exactly.
fn format_refused(results: &[Result<(), JournalError>]) -> String {
    let mut out = String::new();
    for (i, result) in results.iter().enumerate() {
        let tag = match result {
            Ok(()) => continue,
            Err(JournalError::Fenced) => 'F',
            Err(_) => 'K',
        };
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(&format!("{i}:{tag}"));
    }
    out
}

fn parse_refused(refused: &str) -> HashMap<usize, JournalError> {
    refused
        .split(',')
        .filter_map(|item| {
            let (index, tag) = item.split_once(':')?;
            let err = if tag == "F" {
                JournalError::Fenced
            } else {
                JournalError::KeyConflict
            };
            Some((index.parse().ok()?, err))
        })
        .collect()
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;
    use livecart_actors::events::EventPayload;
    use livecart_actors::ids::new_id;
    use livecart_actors::journal::CommitListener;
    use std::sync::Mutex;

    /// Records the outcomes it is told, in order.
    #[derive(Default)]
    pub(super) struct Recorder(Mutex<Vec<Outcome>>);

    impl CommitListener for Recorder {
        fn committed(&self, outcomes: Vec<Outcome>) {
            self.0.lock().expect("recorder lock").extend(outcomes);
        }
    }

    pub(super) fn told(recorder: &Recorder) -> Vec<Outcome> {
        recorder.0.lock().expect("recorder lock").clone()
    }

    fn restock(listener: &Listener) -> Pending {
        let (room_id, listing_id) = (new_id(), new_id());
        let payload = EventPayload::StockAdded {
            room_id,
            listing_id,
            added: 1,
        };
        Pending {
            fence: Fence { room_id, epoch: 1 },
            entry: JournalEntry::StockAdded {
                listing_id,
                added: 1,
                event: DomainEvent::new(chrono::Utc::now(), payload),
            },
            listener: listener.clone(),
        }
    }

    #[test]
    fn a_batch_dropped_unanswered_tells_its_actors_nothing_was_written() {
        let recorder = Arc::new(Recorder::default());
        let listener: Listener = recorder.clone();
        drop(Waiters(vec![listener.clone(), listener]));
        let outcomes = told(&recorder);
        assert_eq!(outcomes.len(), 2);
        assert!(outcomes.iter().all(|o| matches!(o, Err(JournalError::Unavailable(_)))));
    }

    #[test]
    fn an_answered_batch_is_told_once() {
        let recorder = Arc::new(Recorder::default());
        let listener: Listener = recorder.clone();
        Waiters(vec![listener]).answer(vec![Ok(())]);
        assert_eq!(told(&recorder), vec![Ok(())], "answered, and not again on drop");
    }

    #[test]
    fn entries_still_queued_when_the_dispatcher_ends_are_answered() {
        let recorder = Arc::new(Recorder::default());
        let listener: Listener = recorder.clone();
        let (queue, inbox) = mpsc::sync_channel(4);
        for _ in 0..3 {
            queue.try_send(restock(&listener)).expect("room in the queue");
        }
        drop(Inbox(inbox));
        let outcomes = told(&recorder);
        assert_eq!(outcomes.len(), 3, "every queued entry gets an outcome");
        assert!(outcomes.iter().all(|o| matches!(o, Err(JournalError::Unavailable(_)))));
    }

    #[test]
    fn only_written_entries_hand_their_events_to_the_relay_under_their_row() {
        let listener: Listener = Arc::new(Recorder::default());
        let batch: Vec<(Fence, JournalEntry)> = (0..3)
            .map(|_| {
                let pending = restock(&listener);
                (pending.fence, pending.entry)
            })
            .collect();
        let row = committed_events(&batch, &[true, false, true], 41).expect("events written");
        let got: Vec<uuid::Uuid> = row.events.iter().map(|e| e.id).collect();
        assert_eq!(row.seq, 41);
        assert_eq!(got, vec![batch[0].1.event().id, batch[2].1.event().id]);
        assert!(
            committed_events(&batch, &[false, false, false], 42).is_none(),
            "nothing written, no row"
        );
    }

    #[test]
    fn refused_entries_round_trip_through_the_writer_row() {
        let results = vec![
            Ok(()),
            Err(JournalError::KeyConflict),
            Ok(()),
            Err(JournalError::Fenced),
        ];
        let text = format_refused(&results);
        assert_eq!(text, "1:K,3:F");
        let parsed = parse_refused(&text);
        assert_eq!(parsed.get(&1), Some(&JournalError::KeyConflict));
        assert_eq!(parsed.get(&3), Some(&JournalError::Fenced));
        assert_eq!(parsed.len(), 2);
        assert!(parse_refused("").is_empty());
    }
}
