//! `payments_payments`: each payment of an order, from creation to its final state.

use super::Storage;
use crate::application::ports::marketing::RedeemError;
use crate::application::ports::payments::PaymentRecord;
// The journal settles payments by state inside its transaction.
pub use crate::application::ports::payments::PaymentState;
use crate::infrastructure::db::schema::payments_payments::dsl as payments;
use crate::infrastructure::db::{
    parse_id, time, with_conn, with_write_conn, DbConnection, StorageError, StorageResult,
};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use livecart_actors::OrderId;
use uuid::Uuid;

type Row = (String, String, String, i64, String, String, i64);

fn from_row(row: Row) -> StorageResult<PaymentRecord> {
    let (id, order_id, user_id, amount_cents, provider, state, created_at) = row;
    Ok(PaymentRecord {
        state: PaymentState::parse(&state).ok_or_else(|| StorageError::Corrupt(format!("payment {id}: bad state")))?,
        id: parse_id(&id)?,
        order_id: parse_id(&order_id)?,
        user_id: parse_id(&user_id)?,
        amount_cents,
        provider,
        created_at: time::from_millis(created_at),
    })
}

macro_rules! payment_columns {
    () => {
        (
            payments::id,
            payments::order_id,
            payments::user_id,
            payments::amount_cents,
            payments::provider,
            payments::state,
            payments::created_at,
        )
    };
}

/// Inside the journal's transaction: a pending payment reaches its final state with its order.
pub fn settle(conn: &mut DbConnection, id: Uuid, state: PaymentState, at: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(
        payments::payments_payments.filter(
            payments::id
                .eq(id.to_string())
                .and(payments::state.eq(PaymentState::Pending.as_str())),
        ),
    )
    .set((
        payments::state.eq(state.as_str()),
        payments::updated_at.eq(time::to_millis(at)),
    ))
    .execute(conn)
}

impl Storage {
    pub async fn insert_payment(&self, payment: PaymentRecord) -> StorageResult<()> {
        with_write_conn(&self.pool, &self.writers, move |conn| {
            insert(conn, &payment)?;
            Ok(())
        })
        .await
    }

    pub async fn find_payment(&self, id: Uuid) -> StorageResult<Option<PaymentRecord>> {
        with_conn(&self.pool, move |conn| {
            let row: Option<Row> = payments::payments_payments
                .find(id.to_string())
                .select(payment_columns!())
                .first(conn)
                .optional()?;
            row.map(from_row).transpose()
        })
        .await
    }

    /// The order's payment still waiting for the provider, if any: paying twice returns it.
    pub async fn pending_payment_of_order(&self, order_id: OrderId) -> StorageResult<Option<PaymentRecord>> {
        with_conn(&self.pool, move |conn| {
            let row: Option<Row> = payments::payments_payments
                .filter(
                    payments::order_id
                        .eq(order_id.to_string())
                        .and(payments::state.eq(PaymentState::Pending.as_str())),
                )
                .select(payment_columns!())
                .first(conn)
                .optional()?;
            row.map(from_row).transpose()
        })
        .await
    }

    /// A pending payment reaches `state` with no change to its order; `false` when it was no
    /// longer pending.
    pub async fn settle_payment(&self, id: Uuid, state: PaymentState, at: DateTime<Utc>) -> StorageResult<bool> {
        with_write_conn(&self.pool, &self.writers, move |conn| {
            Ok(settle(conn, id, state, at)? == 1)
        })
        .await
    }

    /// The payment, with the coupon spent on its order, in one transaction.
    pub async fn insert_payment_redeeming(&self, payment: PaymentRecord, coupon_id: Uuid) -> Result<(), RedeemError> {
        with_write_conn(&self.pool, &self.writers, move |conn| {
            Ok(conn.transaction(|conn| {
                super::marketing::redeem(conn, coupon_id, Some(payment.order_id), payment.created_at)?;
                insert(conn, &payment)?;
                Ok::<_, RedeemError>(())
            }))
        })
        .await
        .map_err(|e| RedeemError::Store(e.into()))?
    }
}

fn insert(conn: &mut DbConnection, payment: &PaymentRecord) -> QueryResult<usize> {
    let at = time::to_millis(payment.created_at);
    diesel::insert_into(payments::payments_payments)
        .values((
            payments::id.eq(payment.id.to_string()),
            payments::order_id.eq(payment.order_id.to_string()),
            payments::user_id.eq(payment.user_id.to_string()),
            payments::amount_cents.eq(payment.amount_cents),
            payments::provider.eq(payment.provider.clone()),
            payments::state.eq(payment.state.as_str()),
            payments::created_at.eq(at),
            payments::updated_at.eq(at),
        ))
        .execute(conn)
}
