//! `list_rooms`: the merchant's own rooms, newest first, paged.

use super::get_room::room_view;
use super::paging::{Cursor, Page};
use super::views::RoomView;
use super::{AppError, Caller, Services};
use livecart_actors::Role;

pub async fn list_rooms(
    services: &Services,
    caller: &Caller,
    page: Page,
) -> Result<(Vec<RoomView>, Option<String>), AppError> {
    caller.require(Role::Merchant)?;
    let rooms = services.rooms.rooms_of_merchant(caller.user_id, page.window()).await?;
    let (rooms, next) = page.cut(rooms, |r| Cursor {
        created_at: r.created_at,
        id: r.id,
    });
    Ok((
        rooms.iter().map(|r| room_view(services, r, Some(caller))).collect(),
        next,
    ))
}
