//! The group-committing journal: one batch in flight, one transaction per batch.
//!
//! Inventory actors append entries from any thread into a bounded queue (a full queue answers
//! `Overloaded` at once, so a stalled database turns into fast 503s, not a growing backlog). The
//! writer thread, which owns the connection, takes every entry queued when it is free (up to
//! `max_batch`) as one batch; while one batch commits the next queues up, so batches grow with
//! the load by themselves and no timer adds latency to a quiet system. The writer hands each
//! committed batch straight to [`answers`]: no thread between the queue, the commit and the
//! sync. (A dispatcher thread used to take the batches and hand them to the writer and on to the
//! sync: two more hand-offs per batch, each a wake-up that waited for a core.)
//!
//! Inside the transaction each entry's fence (room and lease epoch) is checked against the room's
//! lease row, held with `FOR SHARE` on PostgreSQL so a takeover waits for the batch: an entry of a
//! stale owner is refused (`Fenced`) and not written. The transaction also records the batch's
//! number, and which entries it refused, in the writer's row.
//!
//! A batch that fails, or does not finish within `commit_timeout`, has an unknown outcome: the
//! connection may have broken after COMMIT was sent. A supervisor thread watches the batch in
//! flight (woken at once by a failure, otherwise a few times per `commit_timeout`, never per
//! batch) and takes such a batch over; nobody is answered until it is resolved: on PostgreSQL
//! the old writer's server session is terminated (so it cannot commit later), then the writer's
//! row is read on a fresh connection. The batch landed exactly when the row carries its number.
//! Only then are the waiters answered, so an actor undoes a reservation only when its entry is
//! known not to be durable. A new writer on a new connection then takes over the queue; the old
//! one, if its commit ever returns, finds itself replaced and ends without answering.
//!
//! Waiters are answered per batch, not per entry: each actor with entries in the batch is told
//! once, with its entries' outcomes in the order it appended them (`tell_listeners`). `append`
//! only queues, so an order costs no channel or future of its own here. The writer's connection
//! commits without waiting for the disk; a batch is answered once the log that holds it has been
//! made durable, by a thread of its own while the next batch is written (see [`answers`]).

mod answers;
mod supervisor;
mod writer;

pub use answers::LogBarrier;

use super::committed_feed::CommittedFeed;
use super::db::{Connector, DbConnection};
use super::repos::buyer_index::{Filing, Unfiled};
use super::repos::outbox::{AppendedEvents, RelayPosition};
use super::repos::payments::{self, PaymentState};
use super::repos::{catalog, leases, orders, outbox};
use answers::{Answers, PgLog, WalFile};
use diesel::prelude::*;
use diesel::sql_types::Text;
use livecart_actors::events::DomainEvent;
use livecart_actors::journal::{tell_listeners, Journal, JournalEntry, JournalError, Listener, Outcome};
use livecart_actors::lease::Fence;
use livecart_actors::order::Order;
use livecart_actors::order::OrderStatus::{self, Cancelled, Expired, Paid, Refunded, Reserved};
use livecart_actors::ListingId;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc::{self, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;
use supervisor::Supervisor;
use writer::{Shared, Writer};

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

/// What `/readyz` reads: is the supervisor alive, since when is a batch unresolved, and since
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
    /// Healthy while the supervisor runs and neither a batch has been unresolved nor a sync of
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
    /// Starts the writer and its supervisor. Every batch that wrote events hands them to `feed`,
    /// so the outbox relay publishes them without polling or reading them back; each batch also
    /// saves the relay's `position` when it moved (see [`RelayPosition`]).
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
        let sync_on_commit = answers.sync_on_commit();
        let (queue, inbox) = mpsc::sync_channel(settings.queue_capacity.max(1));
        let shared = Arc::new(Shared {
            inbox: Mutex::new(Inbox::new(inbox)),
            in_flight: Mutex::new(None),
            alarm: Condvar::new(),
            generation: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            answers,
            writer_id,
            position,
            max_batch: settings.max_batch.max(1),
            batch_no: AtomicI64::new(0),
        });
        let writer = Writer::start(&connector, &shared, 0, sync_on_commit)?;
        let supervisor = Supervisor {
            connector,
            shared,
            writer: Some(writer),
            settings,
            health: health.clone(),
        };
        thread::Builder::new()
            .name("livecart-journal".into())
            .spawn(move || supervisor.run())?;
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

/// The actors waiting for one batch (or for the entries still queued when the journal ends).
/// Dropped unanswered, as when the writer panics before its commit, it tells them their entries
/// were not written. (A writer that panics during its commit leaves the batch in flight, and the
/// supervisor resolves it.)
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

/// The journal's end of the queue. However the journal ends, the entries still queued are
/// answered as not written (a dropped receiver would drop them silently, and their actors would
/// wait for outcomes that never come).
struct Inbox {
    queue: mpsc::Receiver<Pending>,
    /// Taken from the queue by the supervisor while no writer ran: the next writer's first batch.
    carried: Vec<Pending>,
}

impl Inbox {
    fn new(queue: mpsc::Receiver<Pending>) -> Self {
        Self {
            queue,
            carried: Vec::new(),
        }
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        let carried = self.carried.drain(..).map(|pending| pending.listener);
        let left: Vec<Listener> = carried
            .chain(self.queue.try_iter().map(|pending| pending.listener))
            .collect();
        drop(Waiters(left));
    }
}

struct StoppedOnExit(Arc<JournalHealth>);

impl Drop for StoppedOnExit {
    fn drop(&mut self) {
        self.0.stopped.store(true, Ordering::Relaxed);
        // The supervisor also ends, normally, when the app shuts down and nothing can send to
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
    use crate::infrastructure::db::TurnHolder;
    use diesel::connection::SimpleConnection;
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
    fn entries_still_queued_when_the_journal_ends_are_answered() {
        let recorder = Arc::new(Recorder::default());
        let listener: Listener = recorder.clone();
        let (queue, inbox) = mpsc::sync_channel(4);
        for _ in 0..3 {
            queue.try_send(restock(&listener)).expect("room in the queue");
        }
        drop(Inbox::new(inbox));
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

    /// A SQLite database of its own, migrated, with a live room leased at epoch 1.
    fn sqlite_with_room() -> (Connector, Fence) {
        let db = std::env::temp_dir().join(format!("livecart-journal-{}.db", uuid::Uuid::new_v4().simple()));
        let connector = Connector::new(&format!("sqlite://{}", db.display()));
        connector.prepare().expect("WAL mode");
        let mut conn = connector.connect().expect("connection");
        crate::infrastructure::db::migrate::run_pending(&mut conn).expect("migrated");
        let room_id = new_id();
        let DbConnection::Sqlite(c) = &mut conn else {
            unreachable!("a SQLite URL")
        };
        c.batch_execute(&format!(
            "INSERT INTO live_rooms (id, merchant_id, title, status, stream_key, created_at) \
             VALUES ('{room_id}', '{}', 'room', 'live', 'key', 0); \
             INSERT INTO live_room_leases (room_id, owner, epoch, expires_at) \
             VALUES ('{room_id}', 'test', 1, 9223372036854775807);",
            new_id()
        ))
        .expect("a leased room");
        (connector, Fence { room_id, epoch: 1 })
    }

    fn outbox_rows(connector: &Connector) -> i64 {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let DbConnection::Sqlite(mut c) = connector.connect().expect("connection") else {
            unreachable!("a SQLite URL")
        };
        let count: Count = diesel::sql_query("SELECT COUNT(*) AS n FROM outbox_batches")
            .get_result(&mut c)
            .expect("count");
        count.n
    }

    /// Waits (up to 10 s) until `recorder` has `n` outcomes.
    fn wait_for_outcomes(recorder: &Recorder, n: usize) -> Vec<Outcome> {
        for _ in 0..1000 {
            let outcomes = told(recorder);
            if outcomes.len() >= n {
                return outcomes;
            }
            thread::sleep(Duration::from_millis(10));
        }
        panic!("fewer than {n} outcomes within 10 s: {:?}", told(recorder));
    }

    #[test]
    fn a_batch_that_waited_past_the_timeout_for_the_write_turn_is_answered_not_written_and_never_lands() {
        let (connector, fence) = sqlite_with_room();
        let settings = JournalSettings {
            max_batch: 16,
            queue_capacity: 64,
            commit_timeout: Duration::from_millis(200),
        };
        let journal = SqlJournal::start(
            connector.clone(),
            settings,
            Arc::new(CommittedFeed::default()),
            Arc::new(RelayPosition::default()),
        )
        .expect("journal");
        let recorder = Arc::new(Recorder::default());
        let listener: Listener = recorder.clone();
        let entry = |listener: &Listener| {
            let mut pending = restock(listener);
            pending.fence = fence;
            pending
        };

        // Another writer of the process holds the turn past the commit timeout.
        let writers = connector.writers();
        let held = writers.turn(TurnHolder::Snapshots);
        let first = entry(&listener);
        journal.append(first.fence, first.entry, &listener).expect("queued");
        thread::sleep(Duration::from_millis(600));
        assert!(
            told(&recorder).is_empty(),
            "nothing is answered before the outcome is known"
        );
        drop(held);

        let outcomes = wait_for_outcomes(&recorder, 1);
        assert!(
            matches!(outcomes[0], Err(JournalError::Unavailable(_))),
            "the batch never reached its commit: {outcomes:?}"
        );
        // The next batch goes through the new writer; the old one, which had waited for the
        // turn, wrote nothing when it got it.
        let second = entry(&listener);
        journal.append(second.fence, second.entry, &listener).expect("queued");
        let outcomes = wait_for_outcomes(&recorder, 2);
        assert_eq!(outcomes[1], Ok(()), "the new writer commits");
        thread::sleep(Duration::from_millis(200));
        assert_eq!(outbox_rows(&connector), 1, "only the answered batch landed");
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
