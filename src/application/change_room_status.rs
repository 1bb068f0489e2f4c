//! `start_live` and `end_live`: the merchant moves the room forward, and every listing's actor
//! learns it before the call returns.

use super::{owned_room, AppError, Caller, Services};
use livecart_actors::events::{DomainEvent, EventPayload};
use livecart_actors::inventory::ReserveError;
use livecart_actors::room::{ChangeStatus, RoomStatus};
use livecart_actors::RoomId;

pub async fn start_live(services: &Services, caller: &Caller, room_id: RoomId) -> Result<RoomStatus, AppError> {
    change_status(services, caller, room_id, RoomStatus::Live).await
}

pub async fn end_live(services: &Services, caller: &Caller, room_id: RoomId) -> Result<RoomStatus, AppError> {
    change_status(services, caller, room_id, RoomStatus::Ended).await
}

/// Repeating the current status is a no-op that succeeds, so a retried call is harmless.
async fn change_status(
    services: &Services,
    caller: &Caller,
    room_id: RoomId,
    target: RoomStatus,
) -> Result<RoomStatus, AppError> {
    let room = owned_room(services, caller, room_id).await?;
    if room.status == target {
        return Ok(target);
    }
    if !room.status.can_become(target) {
        return Err(AppError::Refused(ReserveError::LiveEnded));
    }
    let payload = match target {
        RoomStatus::Live => EventPayload::LiveStarted { room_id },
        _ => EventPayload::LiveEnded { room_id },
    };
    let event = DomainEvent::new(services.clock.now(), payload);
    let moved = services
        .storage
        .transition_room(room_id, room.status, target, event)
        .await?;
    if !moved {
        // Another call moved the room first: answer from where it stands now.
        let now = services
            .storage
            .find_room(room_id)
            .await?
            .ok_or(AppError::NotFound("room"))?;
        return if now.status == target {
            Ok(target)
        } else {
            Err(AppError::Refused(ReserveError::LiveEnded))
        };
    }
    if let Some(actor) = services.directory.room(room_id).await? {
        actor.send(ChangeStatus { status: target }).await?;
    }
    tracing::info!(room.id = %room_id, room.status = target.as_str(), "room status changed");
    Ok(target)
}
