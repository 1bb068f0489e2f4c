//! The journal's supervisor: resolves a batch whose commit failed or did not return in time,
//! before anyone is answered, and puts a new writer on a new connection (see the module above).

use super::answers::Answer;
use super::writer::{InFlight, Shared, Writer};
use super::{now_ms, parse_refused, Batch, JournalHealth, JournalSettings, Outcomes, Pending, StoppedOnExit, Waiters};
use crate::infrastructure::db::{Connector, DbConnection, TurnHolder};
use crate::infrastructure::lock;
use crate::infrastructure::repos::leases;
use livecart_actors::journal::JournalError;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// Watches the writer: a commit that failed or runs past `commit_timeout` is resolved here
/// before anyone is answered, and a new writer takes over with a fresh connection. Wakes at
/// once on a failure, otherwise a few times per `commit_timeout`: nothing per batch.
pub(super) struct Supervisor {
    pub(super) connector: Connector,
    pub(super) shared: Arc<Shared>,
    pub(super) writer: Option<Writer>,
    pub(super) settings: JournalSettings,
    pub(super) health: Arc<JournalHealth>,
}

/// What the supervisor found wrong.
enum Trouble {
    /// The batch's commit failed or did not return in time: resolve it.
    Batch(InFlight, String),
    /// The writer ended with no batch in flight (it panicked between batches), or there is none.
    NoWriter,
}

impl Supervisor {
    pub(super) fn run(mut self) {
        // However the thread ends (a panic included), `/readyz` reports the journal down.
        let _stopped = StoppedOnExit(self.health.clone());
        while let Some(trouble) = self.wait_for_trouble() {
            // The writer is abandoned whatever happened: its connection is suspect, and if it
            // ever returns it finds a newer generation and ends.
            let generation = self.shared.generation.fetch_add(1, Ordering::SeqCst) + 1;
            let session = self.writer.take().and_then(|w| w.session);
            if let Trouble::Batch(flight, why) = trouble {
                metrics::counter!("livecart_journal_failed_batches_total").increment(1);
                tracing::error!(error = %why, batch.no = flight.batch_no, batch.size = flight.batch.len(), "journal batch failed; resolving its outcome before answering");
                let outcomes = self.resolve(flight.batch_no, &flight.batch, session);
                let wrote = outcomes.iter().any(Result::is_ok);
                // A resolved batch's events are in the table only.
                self.shared.answers.send(Answer {
                    batch_no: flight.batch_no,
                    waiters: flight.waiters,
                    outcomes,
                    events: None,
                    wrote,
                });
            }
            self.replace_writer(generation);
        }
    }

    /// Waits until the batch in flight failed or ran too long, or no writer runs; `None` once
    /// the queue has closed.
    fn wait_for_trouble(&self) -> Option<Trouble> {
        let timeout = self.settings.commit_timeout;
        let tick = (timeout / 4).max(Duration::from_millis(10));
        let mut slot = lock(&self.shared.in_flight);
        loop {
            if self.shared.closed.load(Ordering::SeqCst) {
                return None;
            }
            let why = match slot.as_ref() {
                Some(flight) => match &flight.failed {
                    Some(err) => Some(err.clone()),
                    None if flight.started.elapsed() >= timeout => Some(format!("no answer within {timeout:?}")),
                    None => None,
                },
                None => None,
            };
            if let Some(why) = why {
                return slot.take().map(|flight| Trouble::Batch(flight, why));
            }
            if self.writer.as_ref().is_none_or(|w| w.thread.is_finished()) {
                // A finished writer with a batch in flight left it there: time it out above.
                if slot.is_none() {
                    return Some(Trouble::NoWriter);
                }
            }
            slot = self
                .shared
                .alarm
                .wait_timeout(slot, tick)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Starts a writer on a new connection, once every batch sent so far is answered (a failed
    /// sync must read which batches the database holds before a new connection can add any).
    /// Until one connects, it tries again for each batch that arrives, and refuses the batch
    /// when it cannot: a database that is away turns into fast 503s.
    fn replace_writer(&mut self, generation: u64) {
        self.shared.answers.settle();
        let sync_on_commit = self.shared.answers.sync_on_commit();
        loop {
            match Writer::start(&self.connector, &self.shared, generation, sync_on_commit) {
                Ok(writer) => {
                    self.writer = Some(writer);
                    return;
                }
                Err(err) => {
                    let batch = std::mem::take(&mut lock(&self.shared.inbox).carried);
                    tracing::error!(error = %err, batch.size = batch.len(), "journal cannot connect; batch refused");
                    self.refuse(batch, &err.to_string());
                    if !self.carry_next_batch() {
                        return;
                    }
                }
            }
        }
    }

    /// Waits for the next batch and keeps it for the next writer (`Inbox::carried`); `false`
    /// once the queue has closed.
    fn carry_next_batch(&self) -> bool {
        let mut inbox = lock(&self.shared.inbox);
        let Ok(first) = inbox.queue.recv() else {
            drop(inbox);
            self.shared.close();
            return false;
        };
        let rest: Vec<Pending> = inbox
            .queue
            .try_iter()
            .take(self.shared.max_batch.saturating_sub(1))
            .collect();
        inbox.carried.push(first);
        inbox.carried.extend(rest);
        true
    }

    /// Answers a batch that could not be written as not written (nothing of it was sent).
    fn refuse(&self, batch: Vec<Pending>, why: &str) {
        if batch.is_empty() {
            return;
        }
        metrics::counter!("livecart_journal_failed_batches_total").increment(1);
        let outcomes = vec![Err(JournalError::Unavailable(why.to_owned())); batch.len()];
        self.shared.answers.send(Answer {
            batch_no: self.shared.batch_no.fetch_add(1, Ordering::SeqCst) + 1,
            waiters: Waiters(batch.into_iter().map(|p| p.listener).collect()),
            outcomes,
            events: None,
            wrote: false,
        });
    }

    /// Finds out for certain whether the batch landed, retrying until storage answers.
    fn resolve(&self, batch_no: i64, batch: &Batch, session: Option<leases::Session>) -> Outcomes {
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
        // SQLite: the old writer may still be waiting for the write turn, or committing under
        // it. Reading under the turn sees its commit if it made one, and once the turn is
        // released it finds itself replaced and writes nothing (see `write_batches`).
        let writers = self.connector.writers();
        let _turn = writers.turn(TurnHolder::Journal);
        if let (Some(session), DbConnection::Pg(pg)) = (session, &mut conn) {
            // The old session could still commit if COMMIT is yet to reach it: end it first.
            if !leases::terminate_session(pg, session)? {
                anyhow::bail!("the old journal session has not ended yet");
            }
        }
        let (last_batch, refused) = leases::writer_position(&mut conn, &self.shared.writer_id)?;
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
