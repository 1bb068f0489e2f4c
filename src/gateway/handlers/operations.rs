//! Health, readiness, metrics and the OpenAPI document.

use super::Svc;
use crate::application::readiness::readiness;
use crate::gateway::openapi::ApiDoc;
use actix_web::{get, web, HttpResponse};
use metrics_exporter_prometheus::PrometheusHandle;
use utoipa::OpenApi;

#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

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

#[get("/metrics")]
pub async fn metrics(handle: web::Data<PrometheusHandle>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(handle.render())
}

#[get("/openapi.json")]
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
