//! One merchant can never act on another merchant's room or listings: every merchant operation,
//! tried by a rival with the victim's room in the path and with the rival's own room in the path
//! and the victim's listing, is refused (403 or 404) and changes nothing.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// What a rival could have changed about the victim's room.
async fn victim_state(app: &TestApp, room: uuid::Uuid, listing: uuid::Uuid) -> Value {
    let room_view = expect_status(app.get(&format!("/v1/rooms/{room}"), None).await, StatusCode::OK).await;
    let listings = expect_status(
        app.get(&format!("/v1/rooms/{room}/listings"), None).await,
        StatusCode::OK,
    )
    .await;
    json!({
        "status": room_view["status"],
        "pinned": room_view["pinned_listing_id"],
        "listings": listings,
        "stock_left": app.stock_left(room, listing).await,
    })
}

async fn refused(res: reqwest::Response) {
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert!(
        status == StatusCode::FORBIDDEN || status == StatusCode::NOT_FOUND,
        "a rival merchant got {status}: {body}"
    );
    assert!(
        body["error"].is_string() && body["message"].is_string(),
        "contract shape: {body}"
    );
}

on_both_backends! {
    async fn a_rival_merchant_cannot_touch_another_merchants_room_or_listings(backend) {
        let app = spawn_app(backend).await;
        let victim = app.merchant().await;
        let rival = app.merchant().await;
        let room = app.live_room(&victim).await;
        let listing = app.simple_listing(&victim, room, 4, 2).await;
        let other_listing = app.simple_listing(&victim, room, 3, 1).await;
        let rival_room = app.live_room(&rival).await;
        let viewer = app.guest().await;
        let buyer = app.guest().await;
        expect_status(app.order(&buyer, room, listing, json!(1), None).await, StatusCode::CREATED).await;
        let before = victim_state(&app, room, listing).await;

        let t = Some(rival.token.as_str());
        // The victim's room in the path.
        refused(app.post(&format!("/v1/rooms/{room}/listings/{listing}/stock"), t, json!({"add": 1000})).await).await;
        refused(app.post(&format!("/v1/rooms/{room}/listings/{other_listing}/pin"), t, json!({})).await).await;
        refused(app.post(&format!("/v1/rooms/{room}/end"), t, json!({})).await).await;
        refused(app.post(&format!("/v1/rooms/{room}/start"), t, json!({})).await).await;
        let listing_body = json!({"title": "fake", "price_cents": 1, "stock": 1, "per_user_limit": 1});
        refused(app.post(&format!("/v1/rooms/{room}/listings"), t, listing_body.clone()).await).await;
        refused(app.post(&format!("/v1/rooms/{room}/mutes"), t, json!({"user_id": viewer.id})).await).await;
        let unmute = app.client.delete(app.url(&format!("/v1/rooms/{room}/mutes/{}", viewer.id))).bearer_auth(&rival.token).send().await.expect("sent");
        refused(unmute).await;
        let delete_chat = app.client.delete(app.url(&format!("/v1/rooms/{room}/chat/0"))).bearer_auth(&rival.token).send().await.expect("sent");
        refused(delete_chat).await;
        let campaign = json!({"amount_off_cents": 100, "min_spend_cents": 0, "valid_for_s": 3600});
        refused(app.post(&format!("/v1/rooms/{room}/coupon-campaign"), t, campaign.clone()).await).await;

        // The rival's own room in the path, the victim's listing after it: the listing is not in
        // that room, whatever the rival owns.
        refused(app.post(&format!("/v1/rooms/{rival_room}/listings/{listing}/stock"), t, json!({"add": 1000})).await).await;
        refused(app.post(&format!("/v1/rooms/{rival_room}/listings/{other_listing}/pin"), t, json!({})).await).await;
        // And a viewer buying through the rival's room cannot reach the victim's listing either.
        let through = app.order(&buyer, rival_room, other_listing, json!(1), None).await;
        expect_error(through, StatusCode::NOT_FOUND, "not_found").await;

        assert_eq!(victim_state(&app, room, listing).await, before, "the rival changed the victim's room");
        let coupons = expect_status(app.get("/v1/coupons", Some(&buyer.token)).await, StatusCode::OK).await;
        expect_status(app.order(&buyer, room, listing, json!(1), None).await, StatusCode::CREATED).await;
        assert_eq!(coupons.as_array().map(Vec::len), Some(0), "no campaign was started by the rival");
        assert_eq!(app.stored_orders(other_listing).await.len(), 0);
    }
}
