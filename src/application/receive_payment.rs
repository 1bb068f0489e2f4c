//! `receive_payment`: the provider's webhook. Its signature and timestamp are checked first
//! (a forged, unsigned or stale call changes nothing: 401); it is idempotent by payment (a
//! repeated callback finds the payment settled and changes nothing); a success goes to the
//! listing's InventoryActor, which makes the order paid, reserves it again if it had expired and
//! stock is left, or refunds it, in one commit with the payment's final state.

use super::payment_provider::{PaymentOutcome, WebhookError};
use super::ports::payments::PaymentState;
use super::{AppError, Services};
use livecart_actors::inventory::{PaidOutcome, Pay, PayError, PayFailed, StoredPayment};

pub async fn receive_payment(services: &Services, signature: Option<&str>, body: &[u8]) -> Result<(), AppError> {
    let notice = services
        .payments
        .verify(signature, body, services.clock.now())
        .map_err(|err| match err {
            WebhookError::Malformed(why) => AppError::invalid("body", why),
            refused => {
                tracing::warn!(error = %refused, "payment webhook refused");
                AppError::Unauthorized("the webhook signature is missing, wrong or stale")
            }
        })?;
    let payment = services
        .payment_records
        .find_payment(notice.payment_id)
        .await?
        .ok_or(AppError::NotFound("payment"))?;
    if payment.state != PaymentState::Pending {
        // Already settled by an earlier delivery of this callback.
        return Ok(());
    }
    if notice.outcome == PaymentOutcome::Failed {
        services
            .payment_records
            .settle_payment(payment.id, PaymentState::Failed, services.clock.now())
            .await?;
        // A coupon spent on it is the buyer's again, for the next attempt.
        services.marketing.release_coupon_of_order(payment.order_id).await?;
        tracing::info!(payment.id = %payment.id, order.id = %payment.order_id, "payment failed");
        return Ok(());
    }
    let order = services
        .orders
        .find_order(payment.order_id)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("payment {} names a missing order", payment.id)))?;
    let inventory = services
        .directory
        .inventory(order.room_id, order.listing_id)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("order {} names a listing that is gone", order.id)))?;
    let pay = Pay {
        room_id: order.room_id,
        order: StoredPayment {
            order_id: order.id,
            user_id: order.user_id,
            quantity: order.quantity,
            status: order.status,
        },
        payment_id: payment.id,
    };
    let decided = tokio::time::timeout(services.order_deadline, inventory.send(pay))
        .await
        .map_err(|_| AppError::Unavailable("the payment was not durable within the deadline".into()))??;
    match decided {
        Ok(outcome) => {
            let (paid, late) = match outcome {
                PaidOutcome::Paid { late } => (true, late),
                PaidOutcome::Refunded => (false, false),
            };
            metrics::counter!("livecart_payments_settled_total", "outcome" => if paid { "paid" } else { "refunded" })
                .increment(1);
            tracing::info!(payment.id = %payment.id, order.id = %order.id, order.paid = paid, order.late = late, "payment settled");
            Ok(())
        }
        Err(PayFailed::Refused(PayError::AlreadyPaid | PayError::AlreadyRefunded)) => {
            // The order was settled by another payment: this one is given back.
            services
                .payment_records
                .settle_payment(payment.id, PaymentState::Refunded, services.clock.now())
                .await?;
            tracing::info!(payment.id = %payment.id, order.id = %order.id, "second payment of a settled order refunded");
            Ok(())
        }
        Err(PayFailed::Refused(PayError::Busy)) => Err(AppError::Unavailable("the order is changing; retry".into())),
        Err(PayFailed::NotInRoom) => Err(AppError::Internal(anyhow::anyhow!(
            "order {} is not in its room",
            order.id
        ))),
        Err(PayFailed::Storage(err)) => Err(AppError::Unavailable(err.to_string())),
    }
}
