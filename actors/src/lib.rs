//! The livecart domain: every business rule of live selling, as actors around pure state machines.
//!
//! This crate knows nothing of HTTP, SQL or Redis. It owns the ports (traits) through which the
//! outer layers give it a clock and a journal, and the events it reports. Its `Cargo.toml` keeps
//! storage and web crates out, so the rules can be tested in isolation and moved freely.

pub mod clock;
pub mod directory;
pub mod events;
pub mod identity;
pub mod ids;
pub mod inventory;
pub mod journal;
pub mod lease;
pub mod mailbox;
pub mod order;
pub mod room;
pub mod session;
pub mod snapshot;
pub mod timestamp;

pub use clock::{Clock, ManualClock, SystemClock};
pub use identity::Role;
pub use ids::{ListingId, OrderId, RoomId, UserId};
