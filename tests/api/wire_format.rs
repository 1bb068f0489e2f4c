//! What every answer shares: unknown body fields are refused (400 naming the field, nothing
//! changed), a known path with the wrong method gets 405 with `Allow`, and every time is RFC 3339
//! UTC with milliseconds and `Z`, in HTTP bodies and WebSocket frames alike.

use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// `2026-11-30T01:02:03.456Z`: 24 characters, a dot before exactly three digits, a `Z`.
fn assert_wire_time(value: &Value, what: &str) {
    let text = value.as_str().unwrap_or_else(|| panic!("{what} is no string: {value}"));
    let shape = text.len() == 24
        && text.ends_with('Z')
        && text.as_bytes()[19] == b'.'
        && text[20..23].bytes().all(|b| b.is_ascii_digit());
    assert!(shape, "{what} is not RFC 3339 UTC with milliseconds: {text}");
    assert!(chrono::DateTime::parse_from_rfc3339(text).is_ok(), "{what}: {text}");
}

async fn send(app: &TestApp, method: Method, path: &str) -> reqwest::Response {
    app.client
        .request(method, app.url(path))
        .send()
        .await
        .expect("request sent")
}

/// Asserts 405 `method_not_allowed` in the contract's shape, with `Allow: allowed`.
async fn expect_not_allowed(res: reqwest::Response, allowed: &str) {
    let allow = res
        .headers()
        .get("allow")
        .map(|v| v.to_str().expect("ascii").to_owned());
    assert_eq!(allow.as_deref(), Some(allowed), "Allow header");
    expect_error(res, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
}

/// Asserts 400 `bad_request` whose message names `field`.
async fn expect_unknown_field(res: reqwest::Response, field: &str) {
    let body = expect_status(res, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["error"], "bad_request", "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("`{field}`")),
        "the message names {field}: {body}"
    );
}

on_both_backends! {
    async fn a_misspelt_field_is_refused_with_400_naming_it_and_opens_no_sale(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let room = app.live_room(&merchant).await;
        let path = format!("/v1/rooms/{room}/listings");
        // `start_at` for `starts_at`: ignored, it would open the sale at once.
        let typo = json!({"title": "Jasmine", "price_cents": 1999, "stock": 5, "per_user_limit": 1,
            "start_at": "2099-01-01T00:00:00Z"});
        expect_unknown_field(app.post(&path, Some(&merchant.token), typo).await, "start_at").await;
        let listings = expect_status(app.get(&path, None).await, StatusCode::OK).await;
        assert_eq!(listings, json!([]), "no listing was placed");
    }

    async fn every_request_body_refuses_unknown_fields_and_changes_nothing(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let buyer = app.guest().await;
        let room = app.live_room(&merchant).await;
        let listing = app.simple_listing(&merchant, room, 10, 5).await;
        let credentials = json!({"username": "surprised", "password": "correct-horse-battery"});
        let (stock, orders, campaign, mutes) = (
            format!("/v1/rooms/{room}/listings/{listing}/stock"),
            format!("/v1/rooms/{room}/orders"),
            format!("/v1/rooms/{room}/coupon-campaign"),
            format!("/v1/rooms/{room}/mutes"),
        );
        let cases = [
            ("/v1/auth/register", None, json!({"username": "surprised", "password": "correct-horse-battery", "role": "merchant", "admin": true})),
            ("/v1/auth/login", None, json!({"username": "surprised", "password": "correct-horse-battery", "admin": true})),
            ("/v1/auth/guest", None, json!({"nickname": "mei", "admin": true})),
            ("/v1/rooms", Some(&merchant.token), json!({"title": "Tea", "admin": true})),
            (stock.as_str(), Some(&merchant.token), json!({"add": 5, "admin": true})),
            (orders.as_str(), Some(&buyer.token), json!({"listing_id": listing, "quantity": 1, "admin": true})),
            (campaign.as_str(), Some(&merchant.token), json!({"amount_off_cents": 100, "min_spend_cents": 0, "valid_for_s": 60, "admin": true})),
            (mutes.as_str(), Some(&merchant.token), json!({"user_id": buyer.id, "admin": true})),
        ];
        for (path, token, body) in cases {
            let res = app.post(path, token.map(|t| t.as_str()), body).await;
            expect_unknown_field(res, "admin").await;
        }
        // Nothing happened: no user registered, no unit restocked or sold, no order, no coupon.
        expect_error(app.post("/v1/auth/login", None, credentials).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
        assert_eq!(app.stock_left(room, listing).await, 10);
        let orders = expect_status(app.get("/v1/orders", Some(&buyer.token)).await, StatusCode::OK).await;
        assert_eq!(orders, json!([]));
        expect_status(app.order(&buyer, room, listing, json!(1), None).await, StatusCode::CREATED).await;
        assert_eq!(app.stock_left(room, listing).await, 9, "the same body without the field is served");
    }

    async fn a_known_path_with_another_method_gets_405_with_allow(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let room = app.room(&merchant).await;
        expect_not_allowed(send(&app, Method::DELETE, &format!("/v1/rooms/{room}")).await, "GET").await;
        expect_not_allowed(send(&app, Method::PUT, &format!("/v1/rooms/{room}/listings")).await, "GET, POST").await;
        expect_not_allowed(send(&app, Method::GET, "/v1/auth/login").await, "POST").await;
        expect_not_allowed(send(&app, Method::DELETE, "/v1/rooms").await, "GET, POST").await;
        expect_not_allowed(send(&app, Method::POST, "/healthz").await, "GET").await;
        expect_not_allowed(send(&app, Method::GET, &format!("/v1/rooms/{room}/mutes/{}", merchant.id)).await, "DELETE").await;
        // Unknown paths stay 404, and the right method is still served.
        expect_error(send(&app, Method::DELETE, "/v1/nowhere").await, StatusCode::NOT_FOUND, "not_found").await;
        expect_error(send(&app, Method::GET, "/v1/rooms/").await, StatusCode::NOT_FOUND, "not_found").await;
        expect_status(send(&app, Method::GET, &format!("/v1/rooms/{room}")).await, StatusCode::OK).await;
    }

    async fn every_time_is_rfc3339_utc_with_milliseconds_in_bodies_and_frames(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let buyer = app.guest().await;
        let res = app
            .post("/v1/rooms", Some(&merchant.token), json!({"title": "Tea", "scheduled_at": "2030-05-06T07:08:09.123456789+02:00"}))
            .await;
        let room_view = expect_status(res, StatusCode::CREATED).await;
        assert_eq!(room_view["scheduled_at"], "2030-05-06T05:08:09.123Z", "{room_view}");
        assert_wire_time(&room_view["created_at"], "room.created_at");
        let room = id_of(room_view);
        app.start(&merchant, room).await;
        let body = json!({"title": "Jasmine", "price_cents": 1999, "stock": 5, "per_user_limit": 2,
            "starts_at": "2020-01-02T03:04:05.987654321Z", "ends_at": "2099-12-31T23:59:59Z"});
        let res = app.post(&format!("/v1/rooms/{room}/listings"), Some(&merchant.token), body).await;
        let listing = expect_status(res, StatusCode::CREATED).await;
        assert_eq!(listing["starts_at"], "2020-01-02T03:04:05.987Z", "{listing}");
        assert_eq!(listing["ends_at"], "2099-12-31T23:59:59.000Z", "{listing}");
        let listing = id_of(listing);

        let (mut socket, welcome) = app.ws(room, &buyer.token).await;
        assert_eq!(welcome["listings"][0]["starts_at"], "2020-01-02T03:04:05.987Z", "{welcome}");
        socket.send_json(json!({"type": "chat", "text": "hello"})).await;
        let chat = socket.until_type("chat").await;
        assert_wire_time(&chat["at"], "chat.at");

        let created = expect_status(app.order(&buyer, room, listing, json!(1), None).await, StatusCode::CREATED).await;
        assert_wire_time(&created["created_at"], "order.created_at");
        assert_wire_time(&created["expires_at"], "order.expires_at");
        let read = expect_status(app.get(&format!("/v1/orders/{}", id_of(created.clone())), Some(&buyer.token)).await, StatusCode::OK).await;
        assert_eq!(
            (&read["created_at"], &read["expires_at"]),
            (&created["created_at"], &created["expires_at"]),
            "the order reads back as it was answered"
        );
        let listed = expect_status(app.get("/v1/orders", Some(&buyer.token)).await, StatusCode::OK).await;
        assert_eq!(listed[0]["created_at"], created["created_at"]);

        socket.send_json(json!({"type": "buy", "request_id": "wire-1", "listing_id": listing, "quantity": 1})).await;
        let bought = socket.until_type("order").await;
        assert_wire_time(&bought["order"]["created_at"], "order frame created_at");
        assert_wire_time(&bought["order"]["expires_at"], "order frame expires_at");
        let order_id = bought["order"]["id"].as_str().expect("the order frame carries the order's id");
        let read = expect_status(app.get(&format!("/v1/orders/{order_id}"), Some(&buyer.token)).await, StatusCode::OK).await;
        assert_eq!(bought["order"], read, "the order frame carries the order as GET /v1/orders/{{id}} shows it");
    }
}
