//! HTTP request metrics: a count and a latency histogram per method and route pattern. The
//! pattern (`/v1/rooms/{room_id}/orders`) and never the raw path, whose ids would make a new
//! series for every room and order.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use std::time::Instant;

pub const REQUESTS: &str = "livecart_http_requests_total";
pub const DURATION: &str = "livecart_http_request_duration_seconds";

/// The middleware (`actix_web::middleware::from_fn(record)`).
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().to_string();
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
    metrics::counter!(REQUESTS, "method" => method.clone(), "route" => route.clone(), "status" => status.as_str().to_owned())
        .increment(1);
    metrics::histogram!(DURATION, "method" => method, "route" => route).record(seconds);
    result
}
