//! The application's ports: the traits it reaches storage, health probes and the CDN through,
//! one module per area. The application owns them and the record types they carry; the
//! adapters (SQL storage, the journal's and relay's health, Redis, the CDN signer) implement them
//! and are injected by `startup`, so no use case names a database, a pool or a driver.

pub mod catalog;
pub mod health;
pub mod identity;
pub mod live;
pub mod marketing;
pub mod orders;
pub mod payments;
pub mod stream;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use uuid::Uuid;

/// Why a store could not answer. Only these two matter to a use case: retry later (503), or the
/// stored data itself is wrong (500, logged).
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached or the statement failed; nothing was changed.
    #[error("storage is unavailable: {0}")]
    Unavailable(String),
    /// A stored row does not read back as what was written.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// What every store call returns: a future that owns what it needs, so use cases may hold it
/// across awaits.
pub type StoreFuture<T> = BoxFuture<'static, StoreResult<T>>;

/// Which rows of a list kept newest first, by (created_at, id): those strictly after `after`,
/// at most `limit` of them. Paged lists ask for a window; the contract's bare lists for all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub limit: Option<i64>,
}

impl Window {
    /// Every row, newest first.
    pub const ALL: Window = Window {
        after: None,
        limit: None,
    };
}
