//! The group-committing journal: one thread, one connection, one transaction per batch.
//!
//! Inventory actors append entries from any thread. The journal thread takes every entry queued
//! when it is free (up to `max_batch`), writes them all in one transaction, and only then answers
//! each waiter. While one batch commits the next one queues up, so batches grow with the load by
//! themselves and no timer adds latency to a quiet system. A failed batch answers every waiter
//! with `Unavailable` and the actors undo their in-memory effects.

use super::db::{Connector, DbConnection};
use super::repos::{catalog, orders, outbox};
use diesel::connection::SimpleConnection;
use diesel::Connection;
use livecart_actors::events::DomainEvent;
use livecart_actors::journal::{Journal, JournalAck, JournalEntry, JournalError};
use livecart_actors::order::Order;
use std::collections::HashSet;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use tokio::sync::{oneshot, Notify};

struct Pending {
    entry: JournalEntry,
    reply: oneshot::Sender<Result<(), JournalError>>,
}

/// The journal's sending side; cheap to share between actors.
pub struct SqlJournal {
    queue: mpsc::Sender<Pending>,
}

impl SqlJournal {
    /// Starts the journal thread. `committed` is notified after every batch that wrote events,
    /// so the outbox relay publishes them without polling.
    pub fn start(connector: Connector, max_batch: usize, committed: Arc<Notify>) -> anyhow::Result<Self> {
        let conn = open(&connector)?;
        let (queue, inbox) = mpsc::channel();
        thread::Builder::new()
            .name("livecart-journal".into())
            .spawn(move || run(connector, conn, inbox, max_batch.max(1), committed))?;
        Ok(Self { queue })
    }
}

impl Journal for SqlJournal {
    fn append(&self, entry: JournalEntry) -> JournalAck {
        let (reply, answer) = oneshot::channel();
        let sent = self.queue.send(Pending { entry, reply });
        Box::pin(async move {
            if sent.is_err() {
                return Err(JournalError::Unavailable("the journal has stopped".into()));
            }
            answer
                .await
                .unwrap_or_else(|_| Err(JournalError::Unavailable("the journal has stopped".into())))
        })
    }
}

/// The journal's connection. On SQLite it never checkpoints: checkpoints run on the pool's
/// connections (the relay writes after every batch), off the order path.
fn open(connector: &Connector) -> Result<DbConnection, diesel::r2d2::Error> {
    let mut conn = connector.connect()?;
    if let DbConnection::Sqlite(c) = &mut conn {
        c.batch_execute("PRAGMA wal_autocheckpoint = 0;")
            .map_err(diesel::r2d2::Error::QueryError)?;
    }
    Ok(conn)
}

fn run(
    connector: Connector,
    conn: DbConnection,
    inbox: mpsc::Receiver<Pending>,
    max_batch: usize,
    committed: Arc<Notify>,
) {
    let mut conn = Some(conn);
    let mut batch: Vec<Pending> = Vec::with_capacity(max_batch);
    while let Ok(first) = inbox.recv() {
        batch.push(first);
        while batch.len() < max_batch {
            match inbox.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        if conn.is_none() {
            conn = open(&connector)
                .map_err(|e| tracing::error!(error = %e, "journal cannot reconnect"))
                .ok();
        }
        let outcome = match conn.as_mut() {
            Some(c) => commit(c, &batch),
            None => Err(diesel::result::Error::BrokenTransactionManager),
        };
        metrics::histogram!("livecart_journal_batch_size").record(batch.len() as f64);
        match outcome {
            Ok(results) => {
                for (pending, result) in batch.drain(..).zip(results) {
                    let _ = pending.reply.send(result);
                }
                committed.notify_one();
            }
            Err(err) => {
                tracing::error!(error = %err, batch.size = batch.len(), "journal batch failed; nothing in it is acknowledged");
                metrics::counter!("livecart_journal_failed_batches_total").increment(1);
                // Drop the connection: the next batch starts on a fresh one.
                conn = None;
                for pending in batch.drain(..) {
                    let _ = pending.reply.send(Err(JournalError::Unavailable(err.to_string())));
                }
            }
        }
    }
}

/// Writes a batch in one transaction; per entry, `Ok` or why that entry alone was refused.
fn commit(conn: &mut DbConnection, batch: &[Pending]) -> diesel::QueryResult<Vec<Result<(), JournalError>>> {
    conn.transaction(|conn| {
        let placed: Vec<&Order> = batch
            .iter()
            .filter_map(|p| match &p.entry {
                JournalEntry::OrderPlaced { order, .. } => Some(order),
                _ => None,
            })
            .collect();
        let inserted: HashSet<String> = orders::insert_new(conn, &placed)?;

        let mut events: Vec<&DomainEvent> = Vec::with_capacity(batch.len());
        let mut results = Vec::with_capacity(batch.len());
        for pending in batch {
            let result = match &pending.entry {
                JournalEntry::OrderPlaced { order, event } => {
                    if inserted.contains(&order.id.to_string()) {
                        events.push(event);
                        Ok(())
                    } else {
                        Err(JournalError::KeyConflict)
                    }
                }
                JournalEntry::OrderCancelled { order_id, at, event } => {
                    orders::mark_cancelled(conn, *order_id, *at)?;
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
        outbox::append(conn, &events)?;
        Ok(results)
    })
}
