//! `pay_order`: the buyer pays a reserved order. The payment starts with the provider and is
//! answered `pending`; the provider's webhook decides it (see `receive_payment`). Paying twice
//! returns the payment already waiting, so a double tap starts one payment.

use super::payment_provider::PaymentRequest;
use super::ports::payments::{PaymentRecord, PaymentState};
use super::views::PaymentView;
use super::{AppError, Caller, Services};
use livecart_actors::order::OrderStatus;
use livecart_actors::OrderId;
use uuid::Uuid;

pub async fn pay_order(services: &Services, caller: &Caller, order_id: OrderId) -> Result<PaymentView, AppError> {
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
    let payment = PaymentRecord {
        id: Uuid::new_v4(),
        order_id,
        user_id: caller.user_id,
        amount_cents: order.total_cents,
        provider: services.payments.name().to_owned(),
        state: PaymentState::Pending,
        created_at: services.clock.now(),
    };
    services.payment_records.insert_payment(payment.clone()).await?;
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
        return Err(AppError::Unavailable(err.to_string()));
    }
    tracing::info!(order.id = %order_id, payment.id = %payment.id, payment.amount_cents = payment.amount_cents, "payment started");
    Ok(view(&payment))
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
