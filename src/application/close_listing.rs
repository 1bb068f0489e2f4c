//! `close_listing`: the merchant ends a listing's sale now, orders or not: later buys get
//! `sale_ended`, viewers get the listing with its new end and `sale_ended`. Orders already
//! placed stand.

use super::listing_change::{decide, inventory, listing_in_room, tell_room, write};
use super::place_listing::listing_view;
use super::views::ListingView;
use super::{owned_room, AppError, Caller, Services};
use livecart_actors::inventory::actor::CloseSale;
use livecart_actors::inventory::Snapshot;
use livecart_actors::{ListingId, RoomId};

pub async fn close_listing(
    services: &Services,
    caller: &Caller,
    room_id: RoomId,
    listing_id: ListingId,
) -> Result<ListingView, AppError> {
    owned_room(services, caller, room_id).await?;
    let mut listing = listing_in_room(services, room_id, listing_id).await?;
    let actor = inventory(services, room_id, listing_id).await?;
    // To the millisecond, as storage keeps it: the answer shows what a later read shows.
    let now = services.clock.now();
    let at = chrono::DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
    let stored = services.listings.clone();
    let close = CloseSale {
        room_id,
        at,
        write: write(async move { Ok(stored.close_listing(listing_id, at).await?) }),
    };
    decide(services, &actor, close).await?;
    // An earlier end stays, as storage kept it.
    listing.ends_at = Some(listing.ends_at.map_or(at, |ends| ends.min(at)));
    let stock_left = actor.send(Snapshot).await?.stock_left;
    tell_room(services, &listing, stock_left).await?;
    tracing::info!(room.id = %room_id, listing.id = %listing_id, "listing closed");
    Ok(listing_view(&listing, stock_left))
}
