//! Every refusal of the contract for orders, and that none of them changes stock or writes an order.

use crate::helpers::*;
use chrono::{Duration, Utc};
use jsonwebtoken::{encode, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::json;

/// The listing still has all its stock and no order was written.
async fn untouched(app: &TestApp, room: uuid::Uuid, listing: uuid::Uuid, stock: u64) {
    assert_eq!(app.stock_left(room, listing).await, stock);
    assert!(
        app.stored_orders(listing).await.is_empty(),
        "a refused order was stored"
    );
}

on_both_backends! {
    async fn orders_need_a_valid_unexpired_token(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let room = app.live_room(&merchant).await;
        let listing = app.simple_listing(&merchant, room, 10, 2).await;
        let body = json!({"listing_id": listing, "quantity": 1});
        let path = format!("/v1/rooms/{room}/orders");

        expect_error(app.post(&path, None, body.clone()).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
        let res = app.post(&path, Some("not.a.jwt"), body.clone()).await;
        expect_error(res, StatusCode::UNAUTHORIZED, "unauthorized").await;

        let secret = livecart::settings::Settings::load_for("test").expect("settings").auth.jwt_secret;
        let claims = json!({"sub": uuid::Uuid::new_v4(), "role": "viewer", "iat": 1, "exp": (Utc::now() - Duration::hours(1)).timestamp()});
        let expired = encode(&Header::default(), &claims, &EncodingKey::from_secret(secret.as_bytes()).expect("key")).expect("token");
        expect_error(app.post(&path, Some(&expired), body.clone()).await, StatusCode::UNAUTHORIZED, "unauthorized").await;

        let forged_claims = json!({"sub": uuid::Uuid::new_v4(), "role": "viewer", "iat": 1, "exp": (Utc::now() + Duration::hours(1)).timestamp()});
        let forged = encode(&Header::default(), &forged_claims, &EncodingKey::from_secret(b"another-secret-entirely").expect("key")).expect("token");
        expect_error(app.post(&path, Some(&forged), body).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
        untouched(&app, room, listing, 10).await;
    }

    async fn roles_and_ownership_are_enforced_with_403(backend) {
        let app = spawn_app(backend).await;
        let viewer = app.guest().await;
        let res = app.post("/v1/rooms", Some(&viewer.token), json!({"title": "mine"})).await;
        expect_error(res, StatusCode::FORBIDDEN, "forbidden").await;

        let owner = app.merchant().await;
        let other = app.merchant().await;
        let room = app.room(&owner).await;
        let listing = app.simple_listing(&owner, room, 5, 1).await;
        for path in [format!("/v1/rooms/{room}/start"), format!("/v1/rooms/{room}/end")] {
            expect_error(app.post(&path, Some(&other.token), json!({})).await, StatusCode::FORBIDDEN, "forbidden").await;
        }
        let body = json!({"title": "x", "price_cents": 1, "stock": 1, "per_user_limit": 1});
        let res = app.post(&format!("/v1/rooms/{room}/listings"), Some(&other.token), body).await;
        expect_error(res, StatusCode::FORBIDDEN, "forbidden").await;
        let res = app.post(&format!("/v1/rooms/{room}/listings/{listing}/stock"), Some(&other.token), json!({"add": 5})).await;
        expect_error(res, StatusCode::FORBIDDEN, "forbidden").await;
        let res = app.post(&format!("/v1/rooms/{room}/coupon-campaign"), Some(&other.token),
            json!({"amount_off_cents": 100, "min_spend_cents": 0, "valid_for_s": 3600})).await;
        expect_error(res, StatusCode::FORBIDDEN, "forbidden").await;

        let room_view = expect_status(app.get(&format!("/v1/rooms/{room}"), Some(&other.token)).await, StatusCode::OK).await;
        assert!(room_view.get("stream").is_none(), "stream credentials leaked to another merchant");
        let own_view = expect_status(app.get(&format!("/v1/rooms/{room}"), Some(&owner.token)).await, StatusCode::OK).await;
        assert!(own_view["stream"]["push_url"].as_str().is_some_and(|u| u.starts_with("rtmp://") && u.contains("txSecret=")));
        assert_eq!(room_view["status"], "scheduled");
        untouched(&app, room, listing, 5).await;
    }

    async fn the_room_and_sale_window_refuse_with_409(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let buyer = app.guest().await;
        let room = app.room(&merchant).await;
        let always = app.simple_listing(&merchant, room, 10, 5).await;
        let later = app.listing(&merchant, room, json!({"title": "later", "price_cents": 100, "stock": 10, "per_user_limit": 5,
            "starts_at": Utc::now() + Duration::hours(1)})).await;
        let over = app.listing(&merchant, room, json!({"title": "over", "price_cents": 100, "stock": 10, "per_user_limit": 5,
            "starts_at": Utc::now() - Duration::hours(2), "ends_at": Utc::now() - Duration::hours(1)})).await;

        let res = app.order(&buyer, room, always, json!(1), None).await;
        expect_error(res, StatusCode::CONFLICT, "live_not_started").await;
        app.start(&merchant, room).await;
        expect_error(app.order(&buyer, room, later, json!(1), None).await, StatusCode::CONFLICT, "sale_not_open").await;
        expect_error(app.order(&buyer, room, over, json!(1), None).await, StatusCode::CONFLICT, "sale_ended").await;
        let res = app.post(&format!("/v1/rooms/{room}/end"), Some(&merchant.token), json!({})).await;
        assert_eq!(expect_status(res, StatusCode::OK).await["status"], "ended");
        expect_error(app.order(&buyer, room, always, json!(1), None).await, StatusCode::CONFLICT, "live_ended").await;
        let res = app.post(&format!("/v1/rooms/{room}/start"), Some(&merchant.token), json!({})).await;
        expect_error(res, StatusCode::CONFLICT, "live_ended").await;

        for listing in [always, later, over] {
            untouched(&app, room, listing, 10).await;
        }
    }

    async fn stock_limits_and_quantities_refuse_without_side_effects(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let buyer = app.guest().await;
        let room = app.live_room(&merchant).await;
        let listing = app.simple_listing(&merchant, room, 3, 2).await;

        for bad in [json!(0), json!(-1), json!(1_000_000_000_000u64), json!(1e30), json!(1.5)] {
            let res = app.order(&buyer, room, listing, bad.clone(), None).await;
            expect_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_quantity").await;
        }
        expect_error(app.order(&buyer, room, listing, json!("1"), None).await, StatusCode::BAD_REQUEST, "bad_request").await;
        let res = app.client.post(app.url(&format!("/v1/rooms/{room}/orders"))).bearer_auth(&buyer.token)
            .header("content-type", "application/json").body("{\"listing_id\": ").send().await.expect("sent");
        expect_error(res, StatusCode::BAD_REQUEST, "bad_request").await;
        let huge = "x".repeat(200_000);
        let res = app.post(&format!("/v1/rooms/{room}/orders"), Some(&buyer.token), json!({"listing_id": listing, "quantity": 1, "pad": huge})).await;
        expect_error(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
        let res = app.order(&buyer, room, uuid::Uuid::new_v4(), json!(1), None).await;
        expect_error(res, StatusCode::NOT_FOUND, "not_found").await;
        expect_error(app.order(&buyer, room, listing, json!(3), None).await, StatusCode::CONFLICT, "limit_exceeded").await;
        untouched(&app, room, listing, 3).await;

        expect_status(app.order(&buyer, room, listing, json!(2), None).await, StatusCode::CREATED).await;
        expect_error(app.order(&buyer, room, listing, json!(1), None).await, StatusCode::CONFLICT, "limit_exceeded").await;
        let other = app.guest().await;
        expect_error(app.order(&other, room, listing, json!(2), None).await, StatusCode::CONFLICT, "sold_out").await;
        expect_status(app.order(&other, room, listing, json!(1), None).await, StatusCode::CREATED).await;
        expect_error(app.order(&other, room, listing, json!(1), None).await, StatusCode::CONFLICT, "sold_out").await;
        assert_eq!(app.stock_left(room, listing).await, 0);
        assert_eq!(app.stored_orders(listing).await.len(), 2);
    }

    async fn another_users_order_is_404_and_cancel_returns_stock_once(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let buyer = app.guest().await;
        let stranger = app.guest().await;
        let room = app.live_room(&merchant).await;
        let listing = app.simple_listing(&merchant, room, 5, 5).await;
        let order = id_of(expect_status(app.order(&buyer, room, listing, json!(2), None).await, StatusCode::CREATED).await);

        expect_error(app.get(&format!("/v1/orders/{order}"), Some(&stranger.token)).await, StatusCode::NOT_FOUND, "not_found").await;
        let res = app.post(&format!("/v1/orders/{order}/cancel"), Some(&stranger.token), json!({})).await;
        expect_error(res, StatusCode::NOT_FOUND, "not_found").await;
        expect_status(app.get(&format!("/v1/orders/{order}"), Some(&merchant.token)).await, StatusCode::OK).await;
        let mine = expect_status(app.get("/v1/orders", Some(&buyer.token)).await, StatusCode::OK).await;
        assert_eq!(mine.as_array().map(Vec::len), Some(1));
        let theirs = expect_status(app.get("/v1/orders", Some(&stranger.token)).await, StatusCode::OK).await;
        assert_eq!(theirs.as_array().map(Vec::len), Some(0));
        assert_eq!(app.stock_left(room, listing).await, 3);

        let path = format!("/v1/orders/{order}/cancel");
        let (a, b) = futures_util::join!(app.post(&path, Some(&buyer.token), json!({})), app.post(&path, Some(&buyer.token), json!({})));
        let mut statuses = [a.status(), b.status()];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
        assert_eq!(app.stock_left(room, listing).await, 5);
        let stored = expect_status(app.get(&format!("/v1/orders/{order}"), Some(&buyer.token)).await, StatusCode::OK).await;
        assert_eq!(stored["status"], "cancelled");
        let res = app.post(&path, Some(&buyer.token), json!({})).await;
        expect_error(res, StatusCode::CONFLICT, "not_cancellable").await;
        assert_eq!(app.stock_left(room, listing).await, 5);
    }
}
