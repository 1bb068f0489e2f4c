use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;

on_both_backends! {
    async fn stock_and_limits_continue_after_a_restart(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let room = app.live_room(&merchant).await;
        let listing = app.simple_listing(&merchant, room, 10, 3).await;
        let buyer = app.guest().await;
        let other = app.guest().await;
        let keyed = app.guest().await;
        expect_status(app.order(&buyer, room, listing, json!(3), Some("k-1")).await, StatusCode::CREATED).await;
        let keyed_order = id_of(expect_status(app.order(&keyed, room, listing, json!(1), Some("k-2")).await, StatusCode::CREATED).await);
        let cancelled = id_of(expect_status(app.order(&other, room, listing, json!(2), None).await, StatusCode::CREATED).await);
        expect_status(app.post(&format!("/v1/orders/{cancelled}/cancel"), Some(&other.token), json!({})).await, StatusCode::OK).await;
        expect_status(app.order(&other, room, listing, json!(1), None).await, StatusCode::CREATED).await;
        expect_status(app.post(&format!("/v1/rooms/{room}/listings/{listing}/stock"), Some(&merchant.token), json!({"add": 5})).await, StatusCode::OK).await;
        assert_eq!(app.stock_left(room, listing).await, 10);

        let database = app.stop().await;
        let app = spawn_app_on(database).await;

        assert_eq!(app.stock_left(room, listing).await, 10, "stock left survives the restart");
        // Keys are not loaded into memory at start: a replay is recognised in storage, takes
        // nothing, and another request with the key is still refused.
        let replay = expect_status(app.order(&keyed, room, listing, json!(1), Some("k-2")).await, StatusCode::OK).await;
        assert_eq!(id_of(replay), keyed_order);
        expect_error(app.order(&keyed, room, listing, json!(2), Some("k-2")).await, StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused").await;
        assert_eq!(app.stock_left(room, listing).await, 10, "replays took nothing");
        expect_error(app.order(&buyer, room, listing, json!(1), None).await, StatusCode::CONFLICT, "limit_exceeded").await;
        let replay = app.order(&buyer, room, listing, json!(3), Some("k-1")).await;
        assert_eq!(replay.status(), StatusCode::OK, "the idempotency key still replays");
        expect_status(app.order(&other, room, listing, json!(2), None).await, StatusCode::CREATED).await;
        expect_error(app.order(&other, room, listing, json!(1), None).await, StatusCode::CONFLICT, "limit_exceeded").await;
        assert_eq!(app.stock_left(room, listing).await, 8);
        let room_view = expect_status(app.get(&format!("/v1/rooms/{room}"), None).await, StatusCode::OK).await;
        assert_eq!(room_view["status"], "live");
    }
}
