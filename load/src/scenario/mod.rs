//! The scenarios of a run and what they report.

pub mod fanout;
pub mod flash;
pub mod idle;
mod pass;

pub use pass::{PassReport, Timing};
