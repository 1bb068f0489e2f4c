//! `pin_listing`: the merchant shows which listing is being presented now.

use super::{owned_room, AppError, Caller, Services};
use livecart_actors::room::Pin;
use livecart_actors::{ListingId, RoomId};

pub async fn pin_listing(
    services: &Services,
    caller: &Caller,
    room_id: RoomId,
    listing_id: ListingId,
) -> Result<(), AppError> {
    owned_room(services, caller, room_id).await?;
    let listing = services.storage.find_listing(listing_id).await?;
    if listing.is_none_or(|l| l.room_id != room_id) {
        return Err(AppError::NotFound("listing"));
    }
    services.storage.set_pinned_listing(room_id, listing_id).await?;
    if let Some(room) = services.directory.room(room_id).await? {
        room.send(Pin { listing_id }).await?;
    }
    Ok(())
}
