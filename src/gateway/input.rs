//! How malformed input is answered: JSON and path errors in the contract's shape, never a 500.

use super::error::ApiError;
use actix_web::error::{JsonPayloadError, PathError};
use actix_web::web;

/// JSON bodies: at most `limit` bytes (413 beyond), otherwise well-formed (400).
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default().limit(limit).error_handler(|err, _req| {
        let api = match &err {
            JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
                ApiError::PayloadTooLarge
            }
            JsonPayloadError::ContentType => ApiError::BadRequest("expected Content-Type: application/json".into()),
            JsonPayloadError::Deserialize(e) => ApiError::BadRequest(format!("invalid JSON: {e}")),
            other => ApiError::BadRequest(format!("unreadable body: {other}")),
        };
        api.into()
    })
}

/// A path id that is no UUID names nothing that exists.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_err: PathError, _req| ApiError::NotFound("resource").into())
}

/// Query strings of the wrong shape (`epoch=abc`) are bad requests.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default()
        .error_handler(|err, _req| ApiError::BadRequest(format!("invalid query string: {err}")).into())
}

pub async fn no_such_route() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound("route"))
}
