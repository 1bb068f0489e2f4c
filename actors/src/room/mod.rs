//! One live room: its lifecycle, listings and pinned listing, owned by the RoomActor.

pub mod actor;
pub mod status;

pub use actor::{AttachListing, ChangeStatus, Describe, Pin, RoomActor, RoomView, StockChanged};
pub use status::RoomStatus;
