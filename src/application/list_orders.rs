//! `list_orders`: the caller's own orders, newest first.

use super::{AppError, Caller, Services};
use livecart_actors::order::Order;

pub async fn list_orders(services: &Services, caller: &Caller) -> Result<Vec<Order>, AppError> {
    Ok(services.orders.orders_of_user(caller.user_id).await?)
}
