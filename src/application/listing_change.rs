//! What editing, closing and deleting a listing share: the listing must be in the merchant's
//! room, and the change is decided by the listing's InventoryActor, the single writer of its
//! stock, which runs the storage write while it decides nothing else (no order slips in between
//! the check and the change).

use super::ports::catalog::ListingRecord;
use super::{AppError, Services};
use actix::dev::ToEnvelope;
use actix::{Addr, Handler, Message};
use livecart_actors::inventory::actor::{AmendFailed, ListingWrite, WriteRefused};
use livecart_actors::inventory::InventoryActor;
use livecart_actors::session::ListingInfo;
use livecart_actors::{ListingId, RoomId};
use std::future::Future;

/// The listing, if it is in the room: another room's listing is as good as missing.
pub async fn listing_in_room(
    services: &Services,
    room_id: RoomId,
    listing_id: ListingId,
) -> Result<ListingRecord, AppError> {
    services
        .listings
        .find_listing(listing_id)
        .await?
        .filter(|l| l.room_id == room_id)
        .ok_or(AppError::NotFound("listing"))
}

/// The listing's actor (starting the room here if needed).
pub async fn inventory(
    services: &Services,
    room_id: RoomId,
    listing_id: ListingId,
) -> Result<Addr<InventoryActor>, AppError> {
    services
        .directory
        .inventory(room_id, listing_id)
        .await?
        .ok_or(AppError::NotFound("listing"))
}

/// Turns storage work into the write the actor runs; a storage failure changes nothing.
pub fn write<F>(work: F) -> ListingWrite
where
    F: Future<Output = Result<(), AppError>> + Send + 'static,
{
    Box::pin(async move {
        work.await.map_err(|err| match err {
            AppError::ListingHasOrders => WriteRefused::HasOrders,
            other => WriteRefused::Failed(other.to_string()),
        })
    })
}

/// The write for a change allowed only while the listing never had an order: storage is asked
/// too, for orders this incarnation of the actor never saw.
pub fn write_if_never_ordered<F>(services: &Services, listing_id: ListingId, work: F) -> ListingWrite
where
    F: Future<Output = Result<(), AppError>> + Send + 'static,
{
    let orders = services.orders.clone();
    write(async move {
        if orders.listing_has_orders(listing_id).await? {
            return Err(AppError::ListingHasOrders);
        }
        work.await
    })
}

/// Sends the change to the actor, bounded like an order.
pub async fn decide<M, T>(services: &Services, inventory: &Addr<InventoryActor>, change: M) -> Result<T, AppError>
where
    M: Message<Result = Result<T, AmendFailed>> + Send + 'static,
    T: Send + 'static,
    InventoryActor: Handler<M>,
    <InventoryActor as actix::Actor>::Context: ToEnvelope<InventoryActor, M>,
{
    let decided = tokio::time::timeout(services.order_deadline, inventory.send(change))
        .await
        .map_err(|_| AppError::Unavailable("the listing change was not durable within the deadline".into()))??;
    decided.map_err(|err| match err {
        AmendFailed::NotInRoom => AppError::NotFound("listing"),
        AmendFailed::HasOrders => AppError::ListingHasOrders,
        AmendFailed::Busy => AppError::Unavailable("the listing is busy; retry".into()),
        AmendFailed::Write(failed) => AppError::Unavailable(failed.to_string()),
    })
}

/// The listing as viewers see it, for the room's `listing` frame.
pub fn listing_info(listing: &ListingRecord, stock_left: u64) -> ListingInfo {
    ListingInfo {
        id: listing.id,
        room_id: listing.room_id,
        title: listing.title.clone(),
        price_cents: listing.price_cents,
        stock: listing.stock_total,
        stock_left,
        per_user_limit: listing.per_user_limit,
        starts_at: listing.starts_at,
        ends_at: listing.ends_at,
    }
}

/// Tells the running room the listing changed; viewers get it again.
pub async fn tell_room(services: &Services, listing: &ListingRecord, stock_left: u64) -> Result<(), AppError> {
    if let Ok(Some(room)) = services.directory.room(listing.room_id).await {
        room.send(livecart_actors::room::UpdateListing {
            listing: listing_info(listing, stock_left),
        })
        .await?;
    }
    Ok(())
}
