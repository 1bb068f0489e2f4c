//! `list_orders`: the caller's own orders, newest first: all of them, as the contract lists
//! them, or one page when the client asks for pages.

use super::paging::{self, Cursor, Page};
use super::{AppError, Caller, Services};
use livecart_actors::order::Order;

pub async fn list_orders(
    services: &Services,
    caller: &Caller,
    page: Option<Page>,
) -> Result<(Vec<Order>, Option<String>), AppError> {
    let orders = services
        .orders
        .orders_of_user(caller.user_id, paging::window(page.as_ref()))
        .await?;
    Ok(paging::cut(page.as_ref(), orders, |o| Cursor {
        created_at: o.created_at,
        id: o.id,
    }))
}
