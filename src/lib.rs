//! livecart: a live-commerce server. The layers of DESIGN.md, from the edge inward.

pub mod application;
pub mod external;
pub mod gateway;
pub mod infrastructure;
pub mod settings;
pub mod startup;
pub mod telemetry;
