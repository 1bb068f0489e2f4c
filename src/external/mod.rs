//! The external layer: what livecart asks of other companies' systems (the CDN's stream
//! ingest and playback), behind ports so tests and other providers can stand in.

pub mod stream;
