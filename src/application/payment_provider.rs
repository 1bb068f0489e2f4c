//! The payment provider port: the application starts a payment, and the provider reports its
//! outcome later on a signed webhook. The embedded default is a sandbox that behaves like a real
//! provider, in the external layer; a real one plugs in here.

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use livecart_actors::OrderId;
use uuid::Uuid;

/// A payment to start with the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentRequest {
    pub payment_id: Uuid,
    pub order_id: OrderId,
    pub amount_cents: i64,
}

/// What a provider's webhook reported, once its signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentNotice {
    /// The provider's id for this notice (a repeated callback carries the same one).
    pub notice_id: String,
    pub payment_id: Uuid,
    pub outcome: PaymentOutcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentOutcome {
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("the webhook carries no signature")]
    Unsigned,
    #[error("the webhook's signature does not match")]
    BadSignature,
    #[error("the webhook's timestamp is outside the tolerance")]
    Stale,
    /// Signed correctly, but not a notice this server understands.
    #[error("the webhook's body is not a payment notice: {0}")]
    Malformed(String),
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("the payment provider failed: {0}")]
pub struct ProviderError(pub String);

pub trait PaymentProvider: Send + Sync + 'static {
    /// The provider's name, as payments record it.
    fn name(&self) -> &'static str;

    /// Starts the payment; its outcome arrives later on the webhook.
    fn start(&self, payment: PaymentRequest) -> BoxFuture<'static, Result<(), ProviderError>>;

    /// Checks a webhook call's signature and timestamp (at `now`), and reads it.
    fn verify(&self, signature: Option<&str>, body: &[u8], now: DateTime<Utc>) -> Result<PaymentNotice, WebhookError>;
}
