use crate::helpers::*;
use reqwest::StatusCode;

on_both_backends! {
    async fn health_readiness_metrics_and_openapi_are_served(backend) {
        let app = spawn_app(backend).await;
        expect_status(app.get("/healthz", None).await, StatusCode::OK).await;
        expect_status(app.get("/readyz", None).await, StatusCode::OK).await;
        let metrics = app.get("/metrics", None).await;
        assert_eq!(metrics.status(), StatusCode::OK);
        let doc = expect_status(app.get("/openapi.json", None).await, StatusCode::OK).await;
        for path in ["/v1/auth/register", "/v1/rooms/{room_id}/orders", "/v1/orders/{order_id}/cancel", "/v1/coupons", "/v1/rooms/{room_id}/ws", "/v1/rooms/{room_id}/mutes"] {
            assert!(doc["paths"].get(path).is_some(), "{path} missing from the OpenAPI document");
        }
        expect_error(app.get("/v1/rooms/not-a-uuid", None).await, StatusCode::NOT_FOUND, "not_found").await;
        expect_error(app.get(&format!("/v1/rooms/{}", uuid::Uuid::new_v4()), None).await, StatusCode::NOT_FOUND, "not_found").await;
        expect_error(app.get("/no/such/route", None).await, StatusCode::NOT_FOUND, "not_found").await;
    }
}
