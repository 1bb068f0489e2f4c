//! `get_room`: the room as anyone sees it; the stream credentials only for its merchant.

use super::ports::live::RoomRecord;
use super::views::{PlayView, RoomView, StreamView};
use super::{AppError, Caller, Services};
use livecart_actors::directory::DirectoryError;
use livecart_actors::room::Describe;
use livecart_actors::RoomId;

pub async fn get_room(services: &Services, caller: Option<&Caller>, room_id: RoomId) -> Result<RoomView, AppError> {
    let mut room = services
        .rooms
        .find_room(room_id)
        .await?
        .ok_or(AppError::NotFound("room"))?;
    // The running room's figures are the live ones: status, pin, audience.
    // Served by another node: the stored figures, without the live audience.
    let live = match services.directory.room(room_id).await {
        Ok(Some(actor)) => Some(actor.send(Describe).await?),
        Ok(None) | Err(DirectoryError::OwnedElsewhere) => None,
        Err(err) => return Err(err.into()),
    };
    if let Some(live) = &live {
        room.status = live.status;
        room.pinned_listing_id = live.pinned_listing_id;
    }
    let mut view = room_view(services, &room, caller);
    if let Some(live) = live {
        view.viewer_count = live.viewer_count;
        view.like_count = live.like_count;
    }
    Ok(view)
}

pub fn room_view(services: &Services, room: &RoomRecord, caller: Option<&Caller>) -> RoomView {
    let owner = caller.is_some_and(|c| c.user_id == room.merchant_id);
    let stream = owner.then(|| {
        let target = services
            .signer
            .push(&room.stream_key, services.clock.now() + services.push_url_ttl);
        StreamView {
            stream_key: target.stream_key,
            push_url: target.push_url,
        }
    });
    let play = services.signer.play(&room.stream_key);
    RoomView {
        id: room.id,
        title: room.title.clone(),
        status: room.status.as_str().to_owned(),
        merchant_id: room.merchant_id,
        scheduled_at: room.scheduled_at,
        stream,
        play: PlayView {
            hls: play.hls,
            flv: play.flv,
        },
        viewer_count: 0,
        like_count: 0,
        pinned_listing_id: room.pinned_listing_id,
        created_at: room.created_at,
    }
}
