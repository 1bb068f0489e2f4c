//! `create_room`: a merchant schedules a live room and gets its signed push URL.

use super::get_room::room_view;
use super::ports::live::RoomRecord;
use super::views::RoomView;
use super::{validate, AppError, Caller, Services};
use chrono::{DateTime, Utc};
use livecart_actors::ids::new_id;
use livecart_actors::room::RoomStatus;
use livecart_actors::Role;

pub struct NewRoom {
    pub title: String,
    pub scheduled_at: Option<DateTime<Utc>>,
}

pub async fn create_room(services: &Services, caller: &Caller, input: NewRoom) -> Result<RoomView, AppError> {
    caller.require(Role::Merchant)?;
    let id = new_id();
    let room = RoomRecord {
        id,
        merchant_id: caller.user_id,
        title: validate::text("title", &input.title, 200)?,
        status: RoomStatus::Scheduled,
        scheduled_at: input.scheduled_at,
        // The stream name is unguessable: knowing it is half of pushing to the room.
        // Random from the operating system: the stream name should not be guessable.
        stream_key: format!("lc{}", uuid::Uuid::new_v4().simple()),
        pinned_listing_id: None,
        created_at: services.clock.now(),
    };
    services.rooms.insert_room(room.clone()).await?;
    tracing::info!(room.id = %id, merchant.id = %caller.user_id, "room created");
    Ok(room_view(services, &room, Some(caller)))
}
