//! `get_order`: an order, for its buyer or the room's merchant; anyone else is told it does not
//! exist, so order ids leak nothing.

use super::{AppError, Caller, Services};
use livecart_actors::order::Order;
use livecart_actors::OrderId;

pub async fn get_order(services: &Services, caller: &Caller, order_id: OrderId) -> Result<Order, AppError> {
    let order = services
        .orders
        .find_order(order_id)
        .await?
        .ok_or(AppError::NotFound("order"))?;
    if order.user_id == caller.user_id {
        return Ok(order);
    }
    let room = services.rooms.find_room(order.room_id).await?;
    if room.is_some_and(|r| r.merchant_id == caller.user_id) {
        return Ok(order);
    }
    Err(AppError::NotFound("order"))
}
