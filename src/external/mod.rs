//! The external layer: what livecart asks of other companies' systems (the CDN's stream
//! ingest and playback, the payment provider), behind ports so tests and other providers can
//! stand in.

pub mod sandbox_payments;
pub mod stream;
pub mod webhook_signature;
