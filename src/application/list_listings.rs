//! `list_listings`: the room's listings with their live stock, as the inventory actors hold it.

use super::place_listing::listing_view;
use super::views::ListingView;
use super::{AppError, Services};
use livecart_actors::inventory::Snapshot;
use livecart_actors::room::Describe;
use livecart_actors::RoomId;
use std::collections::HashMap;

pub async fn list_listings(services: &Services, room_id: RoomId) -> Result<Vec<ListingView>, AppError> {
    let room = services
        .directory
        .room(room_id)
        .await?
        .ok_or(AppError::NotFound("room"))?;
    let live = room.send(Describe).await?;
    let mut stock_left = HashMap::with_capacity(live.listings.len());
    for (listing_id, inventory) in live.listings {
        stock_left.insert(listing_id, inventory.send(Snapshot).await?.stock_left);
    }
    let listings = services.storage.listings_of_room(room_id).await?;
    Ok(listings
        .iter()
        .map(|l| listing_view(l, stock_left.get(&l.id).copied().unwrap_or(l.stock_total)))
        .collect())
}
