use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;

on_both_backends! {
    async fn register_login_and_guest_issue_tokens(backend) {
        let app = spawn_app(backend).await;
        let created = expect_status(app.register("alice_1", "viewer").await, StatusCode::CREATED).await;
        assert!(created["token"].as_str().is_some());
        expect_error(app.register("alice_1", "merchant").await, StatusCode::CONFLICT, "username_taken").await;

        let good = json!({"username": "alice_1", "password": "correct-horse-battery"});
        let logged_in = expect_status(app.post("/v1/auth/login", None, good).await, StatusCode::OK).await;
        assert_eq!(logged_in["user_id"], created["user_id"]);
        let bad = json!({"username": "alice_1", "password": "wrong-password"});
        expect_error(app.post("/v1/auth/login", None, bad).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
        let nobody = json!({"username": "nobody_here", "password": "whatever1"});
        expect_error(app.post("/v1/auth/login", None, nobody).await, StatusCode::UNAUTHORIZED, "unauthorized").await;

        let guest = app.post("/v1/auth/guest", None, json!({"nickname": "小明"})).await;
        expect_status(guest, StatusCode::CREATED).await;
    }

    async fn invalid_registrations_are_refused_with_422(backend) {
        let app = spawn_app(backend).await;
        for body in [
            json!({"username": "ab", "password": "long-enough", "role": "viewer"}),
            json!({"username": "has space", "password": "long-enough", "role": "viewer"}),
            json!({"username": "carol", "password": "short", "role": "viewer"}),
            json!({"username": "carol", "password": "long-enough", "role": "admin"}),
        ] {
            let res = app.post("/v1/auth/register", None, body).await;
            expect_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        }
        let res = app.post("/v1/auth/guest", None, json!({"nickname": "   "})).await;
        expect_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        let res = app.post("/v1/auth/register", None, json!({"username": 5})).await;
        expect_error(res, StatusCode::BAD_REQUEST, "bad_request").await;
    }
}
