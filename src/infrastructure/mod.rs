//! Infrastructure: SQL storage, the group-committing journal, the outbox relay and the event bus
//! (in process, or Redis Streams when Redis is configured).
//! It implements the domain's ports; nothing inward depends on it except through them.

pub mod backoff;
pub mod committed_feed;
pub mod db;
pub mod event_bus;
pub mod journal;
pub mod leases;
pub mod outbox_relay;
pub mod probes;
pub mod redis_pool;
pub mod repos;
pub mod room_store;
pub mod snapshots;
pub mod streams;

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Takes a mutex whose holder panicked as it is: for data that is whole after every statement
/// that changes it, so a panic elsewhere cannot have left it half-changed.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
