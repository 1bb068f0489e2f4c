//! `list_room_orders`: a room's orders for its merchant, newest first, paged, filterable by
//! status and listing.

use super::paging::{Cursor, Page};
use super::{owned_room, AppError, Caller, Services};
use livecart_actors::order::{Order, OrderStatus};
use livecart_actors::{ListingId, RoomId};

pub struct RoomOrdersFilter {
    pub status: Option<OrderStatus>,
    pub listing_id: Option<ListingId>,
}

pub async fn list_room_orders(
    services: &Services,
    caller: &Caller,
    room_id: RoomId,
    filter: RoomOrdersFilter,
    page: Page,
) -> Result<(Vec<Order>, Option<String>), AppError> {
    owned_room(services, caller, room_id).await?;
    let listings = services.listings.listings_of_room(room_id).await?;
    let mut listing_ids: Vec<ListingId> = listings.iter().map(|l| l.id).collect();
    if let Some(only) = filter.listing_id {
        // A listing of another room filters down to nothing, never to that room's orders.
        listing_ids.retain(|id| *id == only);
    }
    if listing_ids.is_empty() {
        return Ok((Vec::new(), None));
    }
    let orders = services
        .orders
        .orders_of_listings(listing_ids, filter.status, page.window())
        .await?;
    Ok(page.cut(orders, |o| Cursor {
        created_at: o.created_at,
        id: o.id,
    }))
}
