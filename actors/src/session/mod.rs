//! One WebSocket connection: the SessionActor, its wire frames, and the bounded outbound queue
//! with a delivery policy per frame type. Transport-free: the gateway feeds parsed frames in and
//! drains the outbox to the socket.

pub mod actor;
pub mod frames;
pub mod intake;
pub mod order_desk;
pub mod outbox;
mod resume;

pub use actor::{Inbound, SessionActor, SessionId, SessionPorts, Viewer};
pub use frames::{ClientFrame, FrameError, ListingInfo, OrderInfo, Quantity, ServerFrame};
pub use intake::SessionConfig;
pub use order_desk::{BuyRequest, OrderDesk};
pub use outbox::{CloseCode, LatestKey, Outbox, OutboxLimits, Outgoing, Policy, SharedOutbox};
