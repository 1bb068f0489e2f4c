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

on_both_backends! {
    async fn readiness_names_each_part_and_says_when_redis_is_away_but_stays_ready(backend) {
        let app = spawn_app(backend).await;
        let ready = expect_status(app.get("/readyz", None).await, StatusCode::OK).await;
        assert_eq!(ready["checks"]["database"], true, "{ready}");
        assert_eq!(ready["checks"]["journal"], true, "{ready}");
        assert_eq!(ready["checks"]["relay"], true, "{ready}");
        assert!(ready["checks"]["redis"].is_null(), "Redis is not configured: {ready}");

        let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let with_redis = spawn_app_with(fresh_database(backend), |s| s.redis.url = redis).await;
        let ready = expect_status(with_redis.get("/readyz", None).await, StatusCode::OK).await;
        assert_eq!(ready["checks"]["redis"], true, "{ready}");

        // Nothing listens on port 9 here: Redis is configured and away. Orders go on without it,
        // so the node stays in rotation and says it is degraded.
        let away = spawn_app_with(fresh_database(backend), |s| s.redis.url = "redis://127.0.0.1:9".into()).await;
        let body = expect_status(away.get("/readyz", None).await, StatusCode::OK).await;
        assert_eq!(body["status"], "degraded", "{body}");
        assert_eq!(body["checks"]["redis"], false, "{body}");
    }
}
