//! The room WebSocket (`GET /v1/rooms/{id}/ws`): the takeover of upgrade requests from the HTTP
//! server, the upgrade with its checks, the connection driven on its socket (the parsing of client
//! frames, the writer that drains a session's outbox), and the order desk that lets a `buy` frame
//! take the same path as `POST /orders`. The protocol is in docs/protocol.md.

pub mod connection;
pub mod desk;
pub mod inbound;
pub mod takeover;
pub mod upgrade;
pub mod writer;

/// Largest frame, and largest message after continuations, a client may send.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
