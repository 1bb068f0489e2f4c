//! `list_listings`: the room's listings with their live stock, as the inventory actors hold it.

use super::place_listing::listing_view;
use super::ports::catalog::ListingRecord;
use super::views::ListingView;
use super::{AppError, Services};
use actix::Addr;
use livecart_actors::directory::DirectoryError;
use livecart_actors::inventory::Snapshot;
use livecart_actors::room::{Describe, RoomActor};
use livecart_actors::{ListingId, RoomId};
use std::collections::HashMap;

pub async fn list_listings(services: &Services, room_id: RoomId) -> Result<Vec<ListingView>, AppError> {
    let live = match services.directory.room(room_id).await {
        Ok(Some(room)) => Some(live_stock(room).await?),
        Ok(None) => return Err(AppError::NotFound("room")),
        Err(DirectoryError::OwnedElsewhere) => None,
        Err(err) => return Err(err.into()),
    };
    let listings = services.listings.listings_of_room(room_id).await?;
    let stock_left = match live {
        Some(stock_left) => stock_left,
        // Another node sells the room: the stock as its commits left it in storage.
        None => stored_stock(services, &listings).await?,
    };
    Ok(listings
        .iter()
        .map(|l| listing_view(l, stock_left.get(&l.id).copied().unwrap_or(l.stock_total)))
        .collect())
}

async fn live_stock(room: Addr<RoomActor>) -> Result<HashMap<ListingId, u64>, AppError> {
    let live = room.send(Describe).await?;
    let mut stock_left = HashMap::with_capacity(live.listings.len());
    for (listing_id, inventory) in live.listings {
        stock_left.insert(listing_id, inventory.send(Snapshot).await?.stock_left);
    }
    Ok(stock_left)
}

async fn stored_stock(services: &Services, listings: &[ListingRecord]) -> Result<HashMap<ListingId, u64>, AppError> {
    let held = services
        .orders
        .holdings_of_listings(listings.iter().map(|l| l.id).collect())
        .await?;
    Ok(listings
        .iter()
        .map(|l| {
            let taken: u64 = held.get(&l.id).map_or(0, |h| {
                h.settled.iter().map(|(_, units)| *units).sum::<u64>()
                    + h.reserved.iter().map(|o| u64::from(o.quantity)).sum::<u64>()
            });
            (l.id, l.stock_total.saturating_sub(taken))
        })
        .collect())
}
