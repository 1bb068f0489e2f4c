//! `pin_listing` and `unpin_listing`: the merchant shows which listing is being presented now,
//! or that none is.

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
    let listing = services.listings.find_listing(listing_id).await?;
    if listing.is_none_or(|l| l.room_id != room_id) {
        return Err(AppError::NotFound("listing"));
    }
    set_pin(services, room_id, Some(listing_id)).await
}

/// Nothing is pinned any more; viewers get `pinned` with `listing_id: null`. Unpinning a room
/// with nothing pinned is a harmless no-op.
pub async fn unpin_listing(services: &Services, caller: &Caller, room_id: RoomId) -> Result<(), AppError> {
    owned_room(services, caller, room_id).await?;
    set_pin(services, room_id, None).await
}

/// Durable first, then told to the running room.
async fn set_pin(services: &Services, room_id: RoomId, listing_id: Option<ListingId>) -> Result<(), AppError> {
    services.rooms.set_pinned_listing(room_id, listing_id).await?;
    if let Some(room) = services.directory.room(room_id).await? {
        room.send(Pin { listing_id }).await?;
    }
    Ok(())
}
