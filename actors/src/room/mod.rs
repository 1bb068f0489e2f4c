//! One live room: its lifecycle, listings, audience, chat and fan-out, owned by the RoomActor.

pub mod actor;
mod audience;
pub mod chat;
pub mod fanout;
pub mod limiter;
pub mod messages;
pub mod status;

pub use actor::{RoomActor, RoomConfig, RoomInit};
pub use limiter::RateLimit;
pub use messages::*;
pub use status::RoomStatus;
