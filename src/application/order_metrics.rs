//! The order path's metric handles, looked up in the recorder once per process instead of per
//! order: `metrics::counter!` with a name builds a key, hashes it and searches the registry
//! under a lock on every call, and with a label it also allocates the label.
//!
//! Each handle is made on first use, so a series still appears in `/metrics` only once it has
//! a value. The recorder must be installed by then: the server installs it before it serves
//! (`telemetry::prometheus` in `startup::serve`); a handle made before would stay a no-op.

use super::place_order::refusal_code;
use livecart_actors::inventory::ReserveError;
use metrics::{Counter, Histogram};
use std::sync::OnceLock;

/// `livecart_orders_placed_total`.
pub fn placed() -> &'static Counter {
    static HANDLE: OnceLock<Counter> = OnceLock::new();
    HANDLE.get_or_init(|| metrics::counter!("livecart_orders_placed_total"))
}

/// `livecart_orders_timed_out_total`.
pub fn timed_out() -> &'static Counter {
    static HANDLE: OnceLock<Counter> = OnceLock::new();
    HANDLE.get_or_init(|| metrics::counter!("livecart_orders_timed_out_total"))
}

/// `livecart_place_order_seconds`.
pub fn place_order_seconds() -> &'static Histogram {
    static HANDLE: OnceLock<Histogram> = OnceLock::new();
    HANDLE.get_or_init(|| metrics::histogram!("livecart_place_order_seconds"))
}

/// `livecart_orders_refused_total{reason}`, one handle per reason.
pub fn refused(refusal: ReserveError) -> &'static Counter {
    const REASONS: usize = 9;
    static HANDLES: [OnceLock<Counter>; REASONS] = [const { OnceLock::new() }; REASONS];
    let slot = match refusal {
        ReserveError::LiveNotStarted => 0,
        ReserveError::LiveEnded => 1,
        ReserveError::SaleNotOpen => 2,
        ReserveError::SaleEnded => 3,
        ReserveError::InvalidQuantity => 4,
        ReserveError::SoldOut => 5,
        ReserveError::LimitExceeded => 6,
        ReserveError::IdempotencyKeyReused => 7,
        ReserveError::Suspended => 8,
    };
    HANDLES[slot].get_or_init(|| metrics::counter!("livecart_orders_refused_total", "reason" => refusal_code(refusal)))
}
