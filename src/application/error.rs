//! What a use case can answer besides success. Domain refusals keep their names; unexpected
//! causes are wrapped with context. Only the gateway turns these into HTTP statuses.

use super::ports::marketing::RedeemError;
use super::ports::StoreError;
use livecart_actors::directory::{DirectoryError, LoadError};
use livecart_actors::inventory::ReserveError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    /// Names what was not found; also answers for another user's order, so nothing leaks.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    Refused(#[from] ReserveError),
    #[error("the order can no longer be cancelled")]
    NotCancellable,
    /// Paying an order that is no longer reserved (cancelled, expired, paid or refunded).
    #[error("{0}")]
    NotPayable(&'static str),
    #[error("the username is taken")]
    UsernameTaken,
    /// A coupon that cannot be spent: already redeemed, expired or revoked.
    #[error("{0}")]
    CouponRefused(CouponRefusal),
    /// Editing or deleting a listing that was ordered from: its orders name its terms.
    #[error("the listing has orders; it can only be closed")]
    ListingHasOrders,
    #[error("{field}: {reason}")]
    InvalidField { field: &'static str, reason: String },
    /// Input not even of the expected form (a cursor this server never gave): 400, like
    /// malformed JSON.
    #[error("{field}: {reason}")]
    Malformed { field: &'static str, reason: String },
    /// Storage could not be reached or failed; nothing was acknowledged.
    #[error("storage is unavailable")]
    Unavailable(String),
    /// Too much of one costly kind of work (password hashing) is already running; nothing was
    /// done, and the client may retry shortly.
    #[error("the server is busy: {0}")]
    Busy(&'static str),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        AppError::InvalidField {
            field,
            reason: reason.into(),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Corrupt(what) => AppError::Internal(anyhow::anyhow!("corrupt stored data: {what}")),
            StoreError::Unavailable(why) => AppError::Unavailable(why),
        }
    }
}

impl From<LoadError> for AppError {
    fn from(err: LoadError) -> Self {
        AppError::Unavailable(err.to_string())
    }
}

impl From<DirectoryError> for AppError {
    fn from(err: DirectoryError) -> Self {
        AppError::Unavailable(err.to_string())
    }
}

impl From<actix::MailboxError> for AppError {
    fn from(err: actix::MailboxError) -> Self {
        AppError::Unavailable(format!("actor unavailable: {err}"))
    }
}

/// Why a coupon could not be spent, by the rule that refused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CouponRefusal {
    #[error("the coupon was already redeemed")]
    AlreadyRedeemed,
    #[error("the coupon has expired")]
    Expired,
    #[error("the coupon was revoked: the order that earned it was cancelled")]
    Revoked,
}

impl From<RedeemError> for AppError {
    fn from(err: RedeemError) -> Self {
        match err {
            RedeemError::NotFound => AppError::NotFound("coupon"),
            RedeemError::AlreadyRedeemed => AppError::CouponRefused(CouponRefusal::AlreadyRedeemed),
            RedeemError::Expired => AppError::CouponRefused(CouponRefusal::Expired),
            RedeemError::Revoked => AppError::CouponRefused(CouponRefusal::Revoked),
            RedeemError::Store(err) => err.into(),
        }
    }
}
