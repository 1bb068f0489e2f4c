//! `delete_listing`: the merchant takes back a listing nobody has ordered from (409
//! `listing_has_orders` otherwise: close it instead). Its actor is retired through the
//! Directory, so a later buy gets 404; if it was pinned, nothing is pinned any more.

use super::listing_change::{decide, inventory, listing_in_room, write_if_never_ordered};
use super::{owned_room, AppError, Caller, Services};
use livecart_actors::inventory::actor::Withdraw;
use livecart_actors::{ListingId, RoomId};

pub async fn delete_listing(
    services: &Services,
    caller: &Caller,
    room_id: RoomId,
    listing_id: ListingId,
) -> Result<(), AppError> {
    let room = owned_room(services, caller, room_id).await?;
    listing_in_room(services, room_id, listing_id).await?;
    let actor = inventory(services, room_id, listing_id).await?;
    let (listings, rooms) = (services.listings.clone(), services.rooms.clone());
    let pinned = room.pinned_listing_id == Some(listing_id);
    let withdraw = Withdraw {
        room_id,
        write: write_if_never_ordered(services, listing_id, async move {
            if pinned {
                rooms.set_pinned_listing(room_id, None).await?;
            }
            Ok(listings.delete_listing(listing_id).await?)
        }),
    };
    decide(services, &actor, withdraw).await?;
    // The running room forgets it (and unpins it, telling viewers); a room loaded from storage
    // from now on never had it.
    services.directory.detach_listing(room_id, listing_id).await;
    tracing::info!(room.id = %room_id, listing.id = %listing_id, "listing deleted");
    Ok(())
}
