//! `join_room`: the checks before a viewer's WebSocket opens on a room. The gateway has already
//! verified the token and the browser's origin; this decides who the viewer is and which running
//! room they join, so a refused client gets a plain HTTP error before any upgrade.

use super::{AppError, Caller, Services};
use actix::Addr;
use livecart_actors::room::RoomActor;
use livecart_actors::session::Viewer;
use livecart_actors::RoomId;

/// Who joins, and the room actor their session talks to.
pub struct Joined {
    pub viewer: Viewer,
    pub room: Addr<RoomActor>,
}

pub async fn join_room(services: &Services, caller: &Caller, room_id: RoomId) -> Result<Joined, AppError> {
    if services.is_draining() {
        return Err(AppError::Unavailable(
            "the server is shutting down; reconnect in a moment".into(),
        ));
    }
    // A token outlives nothing it names: a user removed since it was issued joins no room.
    let user = services
        .users
        .find_user(caller.user_id)
        .await?
        .ok_or(AppError::Unauthorized("the token's user no longer exists"))?;
    let room = services
        .directory
        .room(room_id)
        .await?
        .ok_or(AppError::NotFound("room"))?;
    Ok(Joined {
        viewer: Viewer {
            user_id: user.id,
            nickname: user.nickname,
            role: user.role,
        },
        room,
    })
}
