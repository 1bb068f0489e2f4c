//! `cancel_order`: the buyer gives up a reservation; its stock returns exactly once, through the
//! listing's InventoryActor, after the cancel is durable.

use super::{AppError, Caller, Services};
use livecart_actors::inventory::{Cancel, CancelFailed};
use livecart_actors::order::{Order, OrderStatus};
use livecart_actors::OrderId;

pub async fn cancel_order(services: &Services, caller: &Caller, order_id: OrderId) -> Result<Order, AppError> {
    let order = services
        .orders
        .find_order(order_id)
        .await?
        .ok_or(AppError::NotFound("order"))?;
    if order.user_id != caller.user_id {
        return Err(AppError::NotFound("order"));
    }
    if order.status != OrderStatus::Reserved {
        return Err(AppError::NotCancellable);
    }
    let inventory = services
        .directory
        .inventory(order.room_id, order.listing_id)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("order {order_id} names a listing that is gone")))?;
    // Bounded like an order: a stalled database answers 503, never a parked request.
    let cancelled = tokio::time::timeout(services.order_deadline, inventory.send(Cancel { order_id }))
        .await
        .map_err(|_| AppError::Unavailable("the cancel was not durable within the deadline".into()))??;
    cancelled.map_err(|e| match e {
        // Cancelled (or expired) by a racing call between our read and the actor's decision.
        CancelFailed::Refused(_) => AppError::NotCancellable,
        CancelFailed::Storage(e) => AppError::Unavailable(e.to_string()),
    })?;
    tracing::info!(order.id = %order_id, listing.id = %order.listing_id, "order cancelled");
    Ok(Order {
        status: OrderStatus::Cancelled,
        ..order
    })
}
