//! The payments port: each payment of an order, from creation to its final state.

use super::marketing::RedeemError;
use super::StoreFuture;
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use livecart_actors::{OrderId, UserId};
use uuid::Uuid;

/// Where a payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentState {
    Pending,
    Succeeded,
    Failed,
    Refunded,
}

impl PaymentState {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentState::Pending => "pending",
            PaymentState::Succeeded => "succeeded",
            PaymentState::Failed => "failed",
            PaymentState::Refunded => "refunded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => PaymentState::Pending,
            "succeeded" => PaymentState::Succeeded,
            "failed" => PaymentState::Failed,
            "refunded" => PaymentState::Refunded,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRecord {
    pub id: Uuid,
    pub order_id: OrderId,
    pub user_id: UserId,
    pub amount_cents: i64,
    pub provider: String,
    pub state: PaymentState,
    pub created_at: DateTime<Utc>,
}

pub trait PaymentRepo: Send + Sync + 'static {
    /// Creates the payment unless its order already has one pending, which it answers instead
    /// (`Some`): requests to pay one order at once start one payment.
    fn insert_payment(&self, payment: PaymentRecord) -> StoreFuture<Option<PaymentRecord>>;
    /// Creates the payment and spends the coupon on its order in one transaction: both or
    /// neither; or answers the order's payment already pending, and spends nothing.
    fn insert_payment_redeeming(
        &self,
        payment: PaymentRecord,
        coupon_id: Uuid,
    ) -> BoxFuture<'static, Result<Option<PaymentRecord>, RedeemError>>;
    fn find_payment(&self, id: Uuid) -> StoreFuture<Option<PaymentRecord>>;
    /// The order's payment still waiting for the provider, if any: paying twice returns it.
    fn pending_payment_of_order(&self, order_id: OrderId) -> StoreFuture<Option<PaymentRecord>>;
    /// A pending payment reaches `state` with no change to its order; `false` when it was no
    /// longer pending.
    fn settle_payment(&self, id: Uuid, state: PaymentState, at: DateTime<Utc>) -> StoreFuture<bool>;
}
