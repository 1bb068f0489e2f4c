//! `wake_reserved_rooms`: a reservation expires only while its listing's actor runs, and actors
//! start on a room's first request. After a restart (or when a room's owner went away) a room
//! nobody visits would keep its reservations, and their stock, forever; so at start and then
//! periodically every room with reservations is started here, if no other node holds it, and its
//! actors expire what is overdue at once and the rest on time.

use super::{AppError, Services};
use livecart_actors::directory::DirectoryError;

/// Starts every room with reserved orders that is not running; how many it started or found.
pub async fn wake_reserved_rooms(services: &Services) -> Result<usize, AppError> {
    let rooms = services.orders.rooms_with_reservations().await?;
    let mut running = 0;
    for room_id in rooms {
        match services.directory.room(room_id).await {
            Ok(Some(_)) => running += 1,
            Ok(None) | Err(DirectoryError::OwnedElsewhere) => {}
            Err(err) => {
                tracing::warn!(room.id = %room_id, error = %err, "a room with reservations could not be started")
            }
        }
    }
    Ok(running)
}
