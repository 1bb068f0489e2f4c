//! HTTP request metrics: a count and a latency histogram per method and route pattern. The
//! pattern (`/v1/rooms/{room_id}/orders`) and never the raw path, whose ids would make a new
//! series for every room and order.
//!
//! Each worker thread keeps the handles of the series it has recorded, so a request costs one
//! look-up in its own thread's small map. Through `metrics::counter!` with labels it cost three
//! label strings, a key built, copied and hashed, and a search of the recorder's registry under
//! its lock, twice (the count and the histogram).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use metrics::{Counter, Histogram};
use std::cell::RefCell;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::time::Instant;

pub const REQUESTS: &str = "livecart_http_requests_total";
pub const DURATION: &str = "livecart_http_request_duration_seconds";

/// One series' handles: the count of its status and the latency of its method and route.
struct Series {
    requests: Counter,
    duration: Histogram,
}

type SeriesKey = (Method, String, StatusCode);

thread_local! {
    /// The series this thread has recorded. It grows as the recorder's registry does: with the
    /// standard methods, route patterns and statuses seen, all bounded.
    static SERIES: RefCell<HashMap<SeriesKey, Series>> = RefCell::new(HashMap::new());
}

/// The middleware (`actix_web::middleware::from_fn(record)`).
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = method_label(req.method());
    let result = next.call(req).await;
    let (route, status) = match &result {
        Ok(res) => (
            // What no route matched (404s, 405s) shares one series.
            res.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned()),
            res.status(),
        ),
        Err(e) => ("unmatched".to_owned(), e.as_response_error().status_code()),
    };
    let seconds = started.elapsed().as_secs_f64();
    SERIES.with(|series| {
        let mut series = series.borrow_mut();
        let series = match series.entry((method, route, status)) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(new) => {
                let handles = register(new.key());
                new.insert(handles)
            }
        };
        series.requests.increment(1);
        series.duration.record(seconds);
    });
    result
}

/// The standard methods as they are, any other as `OTHER`: a client chooses the method, and a
/// series per invented one would grow the registry (and each worker's map) without bound.
fn method_label(method: &Method) -> Method {
    const STANDARD: [Method; 9] = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    if STANDARD.contains(method) {
        method.clone()
    } else {
        Method::from_bytes(b"OTHER").unwrap_or(Method::GET)
    }
}

fn register((method, route, status): &SeriesKey) -> Series {
    let (method, route) = (method.as_str().to_owned(), route.clone());
    Series {
        requests: metrics::counter!(REQUESTS, "method" => method.clone(), "route" => route.clone(), "status" => status.as_str().to_owned()),
        duration: metrics::histogram!(DURATION, "method" => method, "route" => route),
    }
}
