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
    Settle {
        state: state.as_str(),
        at: time::to_millis(at),
        id: id.to_string(),
        pending: PaymentState::Pending.as_str(),
    }
    .execute(conn)
}

crate::fixed_sql! {
    /// Every payment and refund the journal writes: see `db::fixed_sql`.
    struct Settle { state: &'static str as Text, at: i64 as BigInt, id: String as Text, pending: &'static str as Text }
    sql = ["UPDATE payments_payments SET state = ", ", updated_at = ", " WHERE id = ", " AND state = ", ""];
}

impl Storage {
    /// Stores the payment unless its order already has one pending, which it answers instead:
    /// see [`insert_unless_pending`].
    pub async fn insert_payment(&self, payment: PaymentRecord) -> StorageResult<Option<PaymentRecord>> {
        with_write_conn(&self.pool, &self.writers, move |conn| {
            conn.transaction(|conn| insert_unless_pending(conn, &payment))
        })
        .await
    }

    pub async fn find_payment(&self, id: Uuid) -> StorageResult<Option<PaymentRecord>> {
        with_conn(&self.pool, move |conn| payment_by_id(conn, id)).await
    }

    /// The order's payment still waiting for the provider, if any: paying twice returns it.
    pub async fn pending_payment_of_order(&self, order_id: OrderId) -> StorageResult<Option<PaymentRecord>> {
        with_conn(&self.pool, move |conn| pending_of_order(conn, order_id)).await
    }

    /// A pending payment reaches `state` with no change to its order; `false` when it was no
    /// longer pending.
    pub async fn settle_payment(&self, id: Uuid, state: PaymentState, at: DateTime<Utc>) -> StorageResult<bool> {
        with_write_conn(&self.pool, &self.writers, move |conn| {
            Ok(settle(conn, id, state, at)? == 1)
        })
        .await
    }

    /// The payment, with the coupon spent on its order, in one transaction; or, when the order
    /// already has a payment pending, that one, and the coupon is not spent.
    pub async fn insert_payment_redeeming(
        &self,
        payment: PaymentRecord,
        coupon_id: Uuid,
    ) -> Result<Option<PaymentRecord>, RedeemError> {
        with_write_conn(&self.pool, &self.writers, move |conn| {
            Ok(conn.transaction(|conn| {
                if let Some(waiting) = held_pending(conn, payment.order_id).map_err(|e| RedeemError::Store(e.into()))? {
                    return Ok(Some(waiting));
                }
                super::marketing::redeem(conn, coupon_id, Some(payment.order_id), payment.created_at)?;
                insert(conn, &payment)?;
                Ok::<_, RedeemError>(None)
            }))
        })
        .await
        .map_err(|e| RedeemError::Store(e.into()))?
    }
}

/// Inside a transaction: stores `payment` unless its order already has one pending, which it
/// answers instead. A buyer who taps "pay" twice, or a client that resends, must start one
/// payment at the provider, not one per request: before this, eight requests at once stored
/// three to seven payments, each sent to the provider. The check and the insert are serialized
/// per order ([`lock_payments_of`]), so the second request finds the first one's payment.
fn insert_unless_pending(
    conn: &mut DbConnection,
    payment: &PaymentRecord,
) -> Result<Option<PaymentRecord>, StorageError> {
    if let Some(waiting) = held_pending(conn, payment.order_id)? {
        return Ok(Some(waiting));
    }
    insert(conn, payment)?;
    Ok(None)
}

/// Inside a transaction: holds the order's payments ([`lock_payments_of`]) and answers the one
/// pending, if any; with none, the caller's insert is the order's only one.
fn held_pending(conn: &mut DbConnection, order_id: OrderId) -> StorageResult<Option<PaymentRecord>> {
    lock_payments_of(conn, order_id)?;
    pending_of_order(conn, order_id)
}

/// Holds the order's payments for the rest of the transaction. PostgreSQL: a transaction-scoped
/// advisory lock keyed by the order, in a key space of its own (two `int4` keys never meet the
/// outbox's `bigint` one). SQLite: nothing to take, every write of the process already holds
/// the database's write turn (`with_write_conn`).
fn lock_payments_of(conn: &mut DbConnection, order_id: OrderId) -> QueryResult<()> {
    if let DbConnection::Pg(c) = conn {
        PaymentsOfOrder {
            order_id: order_id.to_string(),
        }
        .execute(c)?;
    }
    Ok(())
}

crate::fixed_sql! {
    /// See [`lock_payments_of`]; 1885436193 is `"pay!"` as a big-endian `int4`.
    struct PaymentsOfOrder { order_id: String as Text }
    sql = ["SELECT pg_advisory_xact_lock(1885436193, hashtext(", "))"];
}

/// The order's payment still waiting for the provider, if any.
fn pending_of_order(conn: &mut DbConnection, order_id: OrderId) -> StorageResult<Option<PaymentRecord>> {
    let row: Option<Row> = payments::payments_payments
        .filter(
            payments::order_id
                .eq(order_id.to_string())
                .and(payments::state.eq(PaymentState::Pending.as_str())),
        )
        .select(payment_columns!())
        // The first row found, as `.first()` took it, without its `LIMIT`: see
        // `super::by_key`.
        .get_result(conn)
        .optional()?;
    row.map(from_row).transpose()
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

/// A payment by its key, in a statement SQLite keeps prepared (see [`super::by_key`]).
pub(super) fn payment_by_id(conn: &mut DbConnection, id: Uuid) -> StorageResult<Option<PaymentRecord>> {
    let row: Option<Row> = payments::payments_payments
        .find(id.to_string())
        .select(payment_columns!())
        .get_result(conn)
        .optional()?;
    row.map(from_row).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infrastructure::db::statements_not_kept;
    use crate::infrastructure::repos::orders::insert_new;
    use crate::infrastructure::repos::orders::tests::{database, order};
    use livecart_actors::ids::new_id;

    #[test]
    fn only_a_pending_payment_settles_and_the_statement_is_prepared_once_per_connection() {
        let mut conn = database();
        let placed = order(new_id(), None);
        insert_new(&mut conn, &[&placed]).expect("the order");
        let payment = |state| PaymentRecord {
            id: Uuid::new_v4(),
            order_id: placed.id,
            user_id: placed.user_id,
            amount_cents: placed.total_cents,
            provider: "fake".into(),
            state,
            created_at: Utc::now(),
        };
        let (paid, refunded) = (payment(PaymentState::Pending), payment(PaymentState::Pending));
        for p in [&paid, &refunded] {
            insert(&mut conn, p).expect("a payment");
        }
        let at = Utc::now();
        let (settled, not_kept) = statements_not_kept(&mut conn, |conn| {
            [
                settle(conn, paid.id, PaymentState::Succeeded, at),
                settle(conn, paid.id, PaymentState::Refunded, at),
                settle(conn, refunded.id, PaymentState::Refunded, at),
            ]
            .map(|n| n.expect("ran"))
        });
        assert_eq!(settled, [1, 0, 1], "a settled payment does not move again");
        let state = |id: Uuid, conn: &mut DbConnection| -> String {
            payments::payments_payments
                .find(id.to_string())
                .select(payments::state)
                .first(conn)
                .expect("stored")
        };
        assert_eq!(state(paid.id, &mut conn), "succeeded");
        assert_eq!(state(refunded.id, &mut conn), "refunded");
        assert!(not_kept.is_empty(), "parsed again on every run: {not_kept:#?}");
    }
}
