//! Health, readiness, metrics, the OpenAPI document and the interactive API page.

use super::Svc;
use crate::application::readiness::readiness;
use crate::gateway::error::{ApiError, ErrorBody};
use crate::gateway::openapi::ApiDoc;
use actix_web::http::header::{CACHE_CONTROL, LOCATION};
use actix_web::{get, web, HttpResponse};
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::{Arc, OnceLock};
use utoipa::OpenApi;
use utoipa_swagger_ui::Config;

#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "the process serves")))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "storage, journal, relay (and Redis when configured) are up; `checks` names each"),
        (status = 503, body = ErrorBody, description = "`unavailable`; the message names what is down, `checks` each part")))]
#[get("/readyz")]
pub async fn readyz(svc: Svc) -> HttpResponse {
    let checks = readiness(&svc).await;
    if checks.ready() {
        let status = if checks.degraded() { "degraded" } else { "ready" };
        HttpResponse::Ok().json(serde_json::json!({"status": status, "checks": checks}))
    } else {
        let down: Vec<&str> = [
            ("database", checks.database),
            ("journal", checks.journal),
            ("relay", checks.relay),
            ("shutting down", !checks.draining),
        ]
        .into_iter()
        .filter(|(_, up)| !up)
        .map(|(name, _)| name)
        .collect();
        HttpResponse::ServiceUnavailable().json(serde_json::json!({
            "error": "unavailable",
            "message": format!("not ready: {}", down.join(", ")),
            "checks": checks,
        }))
    }
}

#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain", description = "Prometheus text format, with HELP and TYPE lines")))]
#[get("/metrics")]
pub async fn metrics(handle: web::Data<PrometheusHandle>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(crate::telemetry::render(&handle))
}

#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "this document")))]
#[get("/openapi.json")]
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

/// The page's files are relative to `/docs/`, so the bare path sends the browser there.
#[utoipa::path(get, path = "/docs", tag = "operations",
    responses((status = 308, description = "to `/docs/`, the interactive API page over `/openapi.json`")))]
#[get("/docs")]
pub async fn docs() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((LOCATION, "/docs/"))
        .finish()
}

/// The Swagger UI files, built into the binary (`utoipa-swagger-ui` with `vendored`): the page
/// needs no network, neither at build time nor in the browser.
#[get("/docs/{file:.*}")]
pub async fn docs_file(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    static CONFIG: OnceLock<Arc<Config<'static>>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| Arc::new(Config::from("/openapi.json").persist_authorization(true)));
    match utoipa_swagger_ui::serve(&file, config.clone()) {
        Ok(Some(found)) => Ok(HttpResponse::Ok()
            .content_type(found.content_type)
            .insert_header((CACHE_CONTROL, "no-cache"))
            .body(found.bytes.into_owned())),
        Ok(None) => Err(ApiError::NotFound("file")),
        Err(e) => Err(crate::application::AppError::Internal(anyhow::anyhow!("the API page failed: {e}")).into()),
    }
}
