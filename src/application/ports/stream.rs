//! The stream signer port: how a room's stream URLs are made for the CDN its merchant pushes to.
//! Rooms' views and the WebSocket welcome carry them; the external layer signs for a real CDN.

use chrono::{DateTime, Utc};

/// Where an encoder pushes one stream, and what to paste into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushTarget {
    /// The full RTMP URL, signature included.
    pub push_url: String,
    /// What OBS calls the stream key: the stream name with its signature query.
    pub stream_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayUrls {
    pub hls: String,
    pub flv: String,
}

/// How a stream's URLs are made for a given CDN.
pub trait StreamSigner: Send + Sync + 'static {
    fn push(&self, stream_name: &str, expires_at: DateTime<Utc>) -> PushTarget;
    fn play(&self, stream_name: &str) -> PlayUrls;
}
