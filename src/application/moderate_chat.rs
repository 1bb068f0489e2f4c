//! Chat moderation by the room's merchant: mute and unmute a user, delete a message.

use super::{owned_room, AppError, Caller, Services};
use livecart_actors::room::{DeleteChat, SetMuted};
use livecart_actors::{RoomId, UserId};

/// Mutes (`true`) or unmutes a user in the room; durable first, then told to the live room.
pub async fn set_muted(
    services: &Services,
    caller: &Caller,
    room_id: RoomId,
    user_id: UserId,
    muted: bool,
) -> Result<(), AppError> {
    owned_room(services, caller, room_id).await?;
    services
        .users
        .find_user(user_id)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    services.rooms.set_muted(room_id, user_id, muted).await?;
    if let Some(room) = services.directory.room(room_id).await? {
        room.send(SetMuted { user_id, muted }).await?;
    }
    tracing::info!(room.id = %room_id, user.id = %user_id, muted, "chat mute changed");
    Ok(())
}

/// Removes a chat message from the room's ring; viewers get a `chat_deleted` frame.
pub async fn delete_message(
    services: &Services,
    caller: &Caller,
    room_id: RoomId,
    offset: u64,
) -> Result<(), AppError> {
    owned_room(services, caller, room_id).await?;
    let room = services
        .directory
        .room(room_id)
        .await?
        .ok_or(AppError::NotFound("room"))?;
    if room.send(DeleteChat { offset }).await? {
        tracing::info!(room.id = %room_id, chat.offset = offset, "chat message deleted");
        Ok(())
    } else {
        Err(AppError::NotFound("chat message"))
    }
}
