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

/// Repeating the current status is a no-op that succeeds and pushes the status to the running
/// room again, so a retried call also repairs a push that an earlier attempt did not finish.
///
/// Ending stops the selling first, then commits: between the two no order is accepted, and if
/// the commit fails the room sells again. Starting commits first, then opens the selling.
async fn change_status(
    services: &Services,
    caller: &Caller,
    room_id: RoomId,
    target: RoomStatus,
) -> Result<RoomStatus, AppError> {
    let room = owned_room(services, caller, room_id).await?;
    if room.status == target {
        push(services, room_id, target).await?;
        return Ok(target);
    }
    if !room.status.can_become(target) {
        return Err(AppError::Refused(ReserveError::LiveEnded));
    }
    if target == RoomStatus::Ended {
        push(services, room_id, target).await?;
    }
    let payload = match target {
        RoomStatus::Live => EventPayload::LiveStarted { room_id },
        _ => EventPayload::LiveEnded { room_id },
    };
    let event = DomainEvent::new(services.clock.now(), payload);
    let moved = match services
        .rooms
        .transition_room(room_id, room.status, target, event)
        .await
    {
        Ok(moved) => moved,
        Err(err) => {
            if target == RoomStatus::Ended {
                // The end did not commit: the room is as it was, so it sells again.
                let _ = push(services, room_id, room.status).await;
            }
            return Err(err.into());
        }
    };
    // Another call may have moved the room first: answer from where it stands now.
    let now = if moved {
        target
    } else {
        services
            .rooms
            .find_room(room_id)
            .await?
            .ok_or(AppError::NotFound("room"))?
            .status
    };
    push(services, room_id, now).await?;
    if now != target {
        return Err(AppError::Refused(ReserveError::LiveEnded));
    }
    tracing::info!(room.id = %room_id, room.status = target.as_str(), "room status changed");
    Ok(target)
}

/// Tells the running room (if it runs here) and waits until every listing's actor has applied it.
async fn push(services: &Services, room_id: RoomId, status: RoomStatus) -> Result<(), AppError> {
    match services.directory.room(room_id).await {
        Ok(Some(actor)) => Ok(actor.send(ChangeStatus { status }).await?),
        Ok(None) => Ok(()),
        // Another node sells this room and would not learn the status: refuse (503) rather than
        // store a status the selling does not follow.
        Err(err) => Err(err.into()),
    }
}
