//! The journal's writer: a thread that owns a connection, takes every entry queued when it is
//! free as one batch, commits it and hands it to the sync itself (see the module above), and the
//! state it shares with the supervisor that watches it.

use super::answers::{Answer, Answers};
use super::{commit, committed_events, Batch, Inbox, Pending, Waiters, JOURNAL_CACHE_KIB};
use crate::infrastructure::db::{Connector, DbConnection, TurnHolder, Writers};
use crate::infrastructure::lock;
use crate::infrastructure::repos::buyer_index::{self, Filing, Unfiled};
use crate::infrastructure::repos::leases;
use crate::infrastructure::repos::outbox::RelayPosition;
use diesel::connection::SimpleConnection;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Instant;

/// What the writer of the moment and the supervisor share.
pub(super) struct Shared {
    /// The actors' entries; only the writer of the moment takes from it.
    pub(super) inbox: Mutex<Inbox>,
    /// The batch the writer is committing, from the moment it took it until it is answered.
    /// Whoever takes it out answers it: the writer once its commit returned, or the supervisor
    /// once the commit failed or did not return in time.
    pub(super) in_flight: Mutex<Option<InFlight>>,
    /// Wakes the supervisor at once when a commit failed or the queue closed.
    pub(super) alarm: Condvar,
    /// The writer that may take from the queue; an abandoned one finds it changed and ends.
    pub(super) generation: AtomicU64,
    /// The queue's senders are gone: the app is shutting down.
    pub(super) closed: AtomicBool,
    pub(super) answers: Answers,
    pub(super) writer_id: String,
    pub(super) position: Arc<RelayPosition>,
    pub(super) max_batch: usize,
    pub(super) batch_no: AtomicI64,
}

impl Shared {
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let _guard = lock(&self.in_flight);
        self.alarm.notify_all();
    }
}

/// A batch being committed.
pub(super) struct InFlight {
    pub(super) batch_no: i64,
    pub(super) batch: Batch,
    pub(super) waiters: Waiters,
    pub(super) started: Instant,
    /// Set by the writer when the commit failed: its outcome is to be resolved at once.
    pub(super) failed: Option<String>,
}

/// A writer thread with its own connection, and the server session it runs in (PostgreSQL).
pub(super) struct Writer {
    pub(super) thread: thread::JoinHandle<()>,
    pub(super) session: Option<leases::Session>,
}

impl Writer {
    /// Opens a connection and starts a writer on it that takes batches from the queue until it
    /// is abandoned (a newer `generation`), its commit fails, or the queue closes.
    /// `sync_on_commit` false: a connection that commits without waiting for the disk, whose
    /// batches are answered once `answers` has made the log durable.
    pub(super) fn start(
        connector: &Connector,
        shared: &Arc<Shared>,
        generation: u64,
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
        leases::register_writer(&mut conn, &shared.writer_id)?;
        let unfiled = connector.unfiled();
        let writers = connector.writers();
        {
            // What the last connection left unfiled (a sweep cut short, a crash), before any batch.
            let _turn = writers.turn(TurnHolder::Journal);
            buyer_index::file_everything(&mut conn, &unfiled)?;
        }
        let shared = shared.clone();
        let thread = thread::Builder::new()
            .name("livecart-journal-writer".into())
            .spawn(move || write_batches(&shared, conn, generation, &writers, &unfiled))?;
        Ok(Writer { thread, session })
    }
}

/// The writer's loop: takes every entry queued when it is free (up to `max_batch`), commits
/// them as one batch and hands the batch to `answers`, itself: no thread between the queue,
/// the commit and the sync. A failed commit is left to the supervisor, and the writer ends with
/// its connection, which is never reused.
fn write_batches(shared: &Shared, mut conn: DbConnection, generation: u64, writers: &Writers, unfiled: &Unfiled) {
    let mut filing = Filing::default();
    let mut pending: Vec<Pending> = Vec::with_capacity(shared.max_batch);
    loop {
        {
            let mut inbox = lock(&shared.inbox);
            if shared.generation.load(Ordering::SeqCst) != generation {
                return;
            }
            if inbox.carried.is_empty() {
                let Ok(first) = inbox.queue.recv() else {
                    drop(inbox);
                    shared.close();
                    return;
                };
                pending.push(first);
            } else {
                pending.append(&mut inbox.carried);
            }
            while pending.len() < shared.max_batch {
                match inbox.queue.try_recv() {
                    Ok(next) => pending.push(next),
                    Err(_) => break,
                }
            }
        }
        metrics::histogram!("livecart_journal_batch_size").record(pending.len() as f64);
        let (listeners, entries): (Vec<_>, Vec<_>) =
            pending.drain(..).map(|p| (p.listener, (p.fence, p.entry))).unzip();
        let batch: Batch = Arc::new(entries);
        let batch_no = shared.batch_no.fetch_add(1, Ordering::SeqCst) + 1;
        *lock(&shared.in_flight) = Some(InFlight {
            batch_no,
            batch: batch.clone(),
            waiters: Waiters(listeners),
            started: Instant::now(),
            failed: None,
        });
        let outcome = {
            let _turn = writers.turn(TurnHolder::Journal);
            if shared.generation.load(Ordering::SeqCst) != generation {
                // Replaced while it waited for the turn (SQLite): the supervisor, which reads
                // the outcome under the same turn, answered the batch as not written, so it
                // must not be written now.
                return;
            }
            let started = Instant::now();
            let outcome = commit(
                &mut conn,
                &shared.writer_id,
                batch_no,
                &batch,
                &shared.position,
                &mut filing,
                unfiled,
            );
            metrics::histogram!("livecart_journal_commit_seconds").record(started.elapsed().as_secs_f64());
            outcome
        };
        let mut slot = lock(&shared.in_flight);
        let Some(flight) = slot.take_if(|f| f.batch_no == batch_no) else {
            // The supervisor took the batch (the commit ran too long): it resolves and answers
            // it, and this connection is abandoned.
            return;
        };
        match outcome {
            Ok((committed, saved)) => {
                drop(slot);
                if let Some(seq) = saved {
                    shared.position.saved(seq);
                }
                let written: Vec<bool> = committed.outcomes.iter().map(Result::is_ok).collect();
                let events = committed.seq.and_then(|seq| committed_events(&batch, &written, seq));
                shared.answers.send(Answer {
                    batch_no,
                    waiters: flight.waiters,
                    outcomes: committed.outcomes,
                    events,
                    wrote: written.contains(&true),
                });
            }
            Err(err) => {
                // Back in the slot, marked: the supervisor resolves it at once.
                *slot = Some(InFlight {
                    failed: Some(err.to_string()),
                    ..flight
                });
                shared.alarm.notify_all();
                return;
            }
        }
    }
}
