//! `restock_listing`: the merchant adds units; they are sellable once the restock commits.

use super::place_listing::{listing_view, MAX_STOCK};
use super::views::ListingView;
use super::{owned_room, validate, AppError, Caller, Services};
use livecart_actors::inventory::{Restock, RestockFailed};
use livecart_actors::{ListingId, RoomId};

pub async fn restock_listing(
    services: &Services,
    caller: &Caller,
    room_id: RoomId,
    listing_id: ListingId,
    add: i64,
) -> Result<ListingView, AppError> {
    owned_room(services, caller, room_id).await?;
    let added = validate::range("add", add, 1, MAX_STOCK)? as u32;
    let inventory = services
        .directory
        .inventory(room_id, listing_id)
        .await?
        .ok_or(AppError::NotFound("listing"))?;
    let restocked = tokio::time::timeout(services.order_deadline, inventory.send(Restock { room_id, added }))
        .await
        .map_err(|_| AppError::Unavailable("the restock was not durable within the deadline".into()))??;
    let stock_left = restocked.map_err(|e| match e {
        RestockFailed::NotInRoom => AppError::NotFound("listing"),
        RestockFailed::NothingAdded => AppError::invalid("add", "must be at least 1"),
        RestockFailed::Storage(e) => AppError::Unavailable(e.to_string()),
    })?;
    let listing = services
        .listings
        .find_listing(listing_id)
        .await?
        .ok_or(AppError::NotFound("listing"))?;
    tracing::info!(room.id = %room_id, listing.id = %listing_id, added, "listing restocked");
    Ok(listing_view(&listing, stock_left))
}
