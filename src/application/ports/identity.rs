//! The identity port: accounts and guests.

use super::{StoreError, StoreFuture};
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use livecart_actors::{Role, UserId};

#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: UserId,
    /// `None` for a guest.
    pub username: Option<String>,
    pub password_hash: Option<String>,
    pub role: Role,
    pub nickname: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum InsertUserError {
    #[error("the username is taken")]
    UsernameTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub trait UserRepo: Send + Sync + 'static {
    fn insert_user(&self, user: UserRecord) -> BoxFuture<'static, Result<(), InsertUserError>>;
    fn find_user(&self, id: UserId) -> StoreFuture<Option<UserRecord>>;
    fn find_user_by_username(&self, username: String) -> StoreFuture<Option<UserRecord>>;
}
