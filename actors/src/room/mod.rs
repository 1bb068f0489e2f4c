//! One live room: its lifecycle, listings, audience, chat and fan-out, owned by the RoomActor.

pub mod actor;
mod audience;
pub mod chat;
pub mod fanout;
pub mod limiter;
mod listing_changes;
pub mod messages;
pub mod status;

pub use actor::{RoomActor, RoomConfig, RoomInit};
pub use limiter::RateLimit;
pub use listing_changes::{DetachListing, UpdateListing};
pub use messages::*;
pub use status::RoomStatus;
