//! `pay_order`: the buyer pays a reserved order. The payment starts with the provider and is
//! answered `pending`; the provider's webhook decides it (see `receive_payment`). Paying twice
//! returns the payment already waiting, so a double tap starts one payment.
//!
//! With one of the buyer's coupons from the order's room, the payment is smaller by its
//! `amount_off_cents` (never below zero) once the order reaches its `min_spend_cents`, and the
//! coupon is spent in the same transaction as the payment is created: both or neither. A payment
//! that fails gives the coupon back.

use super::payment_provider::PaymentRequest;
use super::ports::payments::{PaymentRecord, PaymentState};
use super::views::PaymentView;
use super::{AppError, Caller, Services};
use livecart_actors::order::{Order, OrderStatus};
use livecart_actors::OrderId;
use uuid::Uuid;

pub async fn pay_order(
    services: &Services,
    caller: &Caller,
    order_id: OrderId,
    coupon_id: Option<Uuid>,
) -> Result<PaymentView, AppError> {
    let order = services
        .orders
        .find_order(order_id)
        .await?
        .filter(|o| o.user_id == caller.user_id)
        .ok_or(AppError::NotFound("order"))?;
    match order.status {
        OrderStatus::Reserved => {}
        OrderStatus::Paid => return Err(AppError::NotPayable("the order is already paid")),
        OrderStatus::Cancelled => return Err(AppError::NotPayable("the order was cancelled")),
        OrderStatus::Expired => return Err(AppError::NotPayable("the reservation expired")),
        OrderStatus::Refunded => return Err(AppError::NotPayable("the order was refunded")),
    }
    if let Some(waiting) = services.payment_records.pending_payment_of_order(order_id).await? {
        return Ok(view(&waiting));
    }
    let amount_off = match coupon_id {
        Some(coupon_id) => discount(services, caller, &order, coupon_id).await?,
        None => 0,
    };
    let payment = PaymentRecord {
        id: Uuid::new_v4(),
        order_id,
        user_id: caller.user_id,
        amount_cents: (order.total_cents - amount_off).max(0),
        provider: services.payments.name().to_owned(),
        state: PaymentState::Pending,
        created_at: services.clock.now(),
    };
    let already = match coupon_id {
        Some(coupon_id) => {
            services
                .payment_records
                .insert_payment_redeeming(payment.clone(), coupon_id)
                .await?
        }
        None => services.payment_records.insert_payment(payment.clone()).await?,
    };
    // Another request for this order stored its payment first: that one is the payment.
    if let Some(waiting) = already {
        return Ok(view(&waiting));
    }
    let request = PaymentRequest {
        payment_id: payment.id,
        order_id,
        amount_cents: payment.amount_cents,
    };
    if let Err(err) = services.payments.start(request).await {
        services
            .payment_records
            .settle_payment(payment.id, PaymentState::Failed, services.clock.now())
            .await?;
        services.marketing.release_coupon_of_order(order_id).await?;
        return Err(AppError::Unavailable(err.to_string()));
    }
    tracing::info!(order.id = %order_id, payment.id = %payment.id, payment.amount_cents = payment.amount_cents, "payment started");
    Ok(view(&payment))
}

/// What the coupon takes off this order: the buyer's own, from the order's room, and the order
/// reaches its minimum spend. Whether it is still unspent, unexpired and unrevoked is decided
/// when it is spent, in the payment's transaction.
async fn discount(services: &Services, caller: &Caller, order: &Order, coupon_id: Uuid) -> Result<i64, AppError> {
    let coupon = services
        .marketing
        .find_coupon(coupon_id)
        .await?
        .filter(|c| c.user_id == caller.user_id)
        .ok_or(AppError::NotFound("coupon"))?;
    if coupon.room_id != order.room_id {
        return Err(AppError::invalid(
            "coupon_id",
            "the coupon is for orders of another room",
        ));
    }
    if order.total_cents < coupon.min_spend_cents {
        return Err(AppError::invalid(
            "coupon_id",
            format!(
                "the order does not reach the coupon's minimum spend of {} cents",
                coupon.min_spend_cents
            ),
        ));
    }
    Ok(coupon.amount_off_cents)
}

pub fn view(payment: &PaymentRecord) -> PaymentView {
    PaymentView {
        payment_id: payment.id,
        order_id: payment.order_id,
        amount_cents: payment.amount_cents,
        provider: payment.provider.clone(),
        state: payment.state.as_str().to_owned(),
    }
}
