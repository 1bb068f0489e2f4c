//! How malformed input is answered: JSON and path errors, unknown routes and wrong methods, in
//! the contract's shape, never a 500.

use super::error::ApiError;
use super::openapi::ApiDoc;
use actix_web::dev::ResourceDef;
use actix_web::error::{JsonPayloadError, PathError};
use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use std::sync::OnceLock;
use utoipa::OpenApi;

/// JSON bodies: at most `limit` bytes (413 beyond), otherwise well-formed (400).
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default().limit(limit).error_handler(|err, _req| {
        let api = match &err {
            JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
                ApiError::PayloadTooLarge
            }
            JsonPayloadError::ContentType => ApiError::BadRequest("expected Content-Type: application/json".into()),
            // A field the endpoint does not know is refused rather than ignored (every body is
            // `deny_unknown_fields`): a typo such as `start_at` would otherwise open a sale at once.
            JsonPayloadError::Deserialize(e) if e.is_data() => ApiError::BadRequest(format!("invalid body: {e}")),
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

/// What no route took: 405 `method_not_allowed` with `Allow` when the path is one the API
/// serves under other methods, else 404 `not_found`. The paths and their methods are read from
/// the OpenAPI document, so a documented route gets its 405 without being listed twice.
pub async fn no_such_route(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let allowed = allowed_methods(req.path());
    if allowed.is_empty() || allowed.contains(req.method()) {
        return Err(ApiError::NotFound("route"));
    }
    Err(ApiError::MethodNotAllowed {
        method: req.method().clone(),
        allowed,
    })
}

/// The methods the documented paths matching `path` serve, in a stable order.
fn allowed_methods(path: &str) -> Vec<Method> {
    let mut allowed: Vec<Method> = documented_paths()
        .iter()
        .filter(|(def, _)| def.is_match(path))
        .flat_map(|(_, methods)| methods.iter().cloned())
        .collect();
    allowed.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    allowed.dedup();
    allowed
}

/// Every path of the OpenAPI document, as actix matches routes, with its methods.
fn documented_paths() -> &'static [(ResourceDef, Vec<Method>)] {
    static PATHS: OnceLock<Vec<(ResourceDef, Vec<Method>)>> = OnceLock::new();
    PATHS.get_or_init(|| {
        ApiDoc::openapi()
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = [
                    (Method::GET, &item.get),
                    (Method::POST, &item.post),
                    (Method::PUT, &item.put),
                    (Method::PATCH, &item.patch),
                    (Method::DELETE, &item.delete),
                ]
                .into_iter()
                .filter(|(_, operation)| operation.is_some())
                .map(|(method, _)| method)
                .collect();
                (ResourceDef::new(path.as_str()), methods)
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_documented_path_knows_its_methods_whatever_its_ids() {
        assert_eq!(
            allowed_methods("/v1/rooms/6f9619ff-8b86-d011-b42d-00c04fc964ff/listings"),
            vec![Method::GET, Method::POST]
        );
        assert_eq!(allowed_methods("/v1/orders"), vec![Method::GET]);
        assert!(allowed_methods("/v1/nowhere").is_empty());
        assert!(allowed_methods("/v1/rooms/").is_empty(), "an empty id is no room");
    }
}
