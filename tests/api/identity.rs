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

on_both_backends! {
    async fn a_registration_flood_beyond_the_hashing_turns_gets_503_with_retry_after(backend) {
        let app = spawn_app_with(fresh_database(backend), |s| {
            s.auth.max_concurrent_hashes = 1;
            s.auth.hash_wait_ms = 0;
        })
        .await;
        let names: Vec<String> = (0..16).map(|i| format!("flood_{i}")).collect();
        let answers = futures_util::future::join_all(names.iter().map(|name| app.register(name, "viewer"))).await;
        let mut busy = 0;
        let mut created = Vec::new();
        for (i, res) in answers.into_iter().enumerate() {
            match res.status() {
                StatusCode::CREATED => created.push(i),
                StatusCode::SERVICE_UNAVAILABLE => {
                    busy += 1;
                    let retry: u64 = res.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
                    assert!(retry >= 1);
                    expect_error(res, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
                }
                other => panic!("only 201 or 503 unavailable, got {other}: {:?}", res.text().await),
            }
        }
        assert!(busy > 0, "one turn cannot serve 16 registrations at once");
        assert!(!created.is_empty(), "the turn serves someone");
        // A refused registration changed nothing: the name is still free.
        let refused = (0..16).find(|i| !created.contains(i)).expect("one was refused");
        expect_status(app.register(&names[refused], "viewer").await, StatusCode::CREATED).await;
    }
}
