//! Coupons are spent once: on an order's payment (the amount drops, in the payment's own
//! transaction) or by the room's merchant. A second redemption, an expired or revoked coupon and
//! someone else's are refused by name, and twenty at once spend it exactly once.

use crate::helpers::*;
use chrono::{Duration as Span, Utc};
use livecart_actors::ManualClock;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// A live room of `merchant` with a campaign (500 off from 2000 spent, valid 60 s) and a listing
/// at 1999 a unit.
async fn campaign_room(app: &TestApp, merchant: &User) -> (Uuid, Uuid) {
    let room = app.live_room(merchant).await;
    let listing = app.simple_listing(merchant, room, 1000, 100).await;
    let body = json!({"amount_off_cents": 500, "min_spend_cents": 2000, "valid_for_s": 60});
    let res = app
        .post(
            &format!("/v1/rooms/{room}/coupon-campaign"),
            Some(&merchant.token),
            body,
        )
        .await;
    expect_status(res, StatusCode::CREATED).await;
    (room, listing)
}

/// Places an order of `quantity` units and returns its id.
async fn ordered(app: &TestApp, buyer: &User, room: Uuid, listing: Uuid, quantity: u32) -> Uuid {
    id_of(
        expect_status(
            app.order(buyer, room, listing, json!(quantity), None).await,
            StatusCode::CREATED,
        )
        .await,
    )
}

/// The buyer's coupon earned by `order`, once issued and satisfying `wanted` (coupons follow
/// events: this polls, bounded).
async fn coupon_of(app: &TestApp, buyer: &User, order: Uuid, wanted: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let list = expect_status(app.get("/v1/coupons", Some(&buyer.token)).await, StatusCode::OK).await;
        let found = list
            .as_array()
            .and_then(|a| a.iter().find(|c| c["order_id"] == json!(order)).cloned());
        if let Some(coupon) = found.filter(|c| wanted(c)) {
            return coupon;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no such coupon for {order} in time: {list}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn id(value: &Value) -> Uuid {
    value["id"].as_str().and_then(|s| s.parse().ok()).expect("an id")
}

impl TestApp {
    async fn pay(&self, buyer: &User, order: Uuid, body: Option<Value>) -> Response {
        let mut req = self
            .client
            .post(self.url(&format!("/v1/orders/{order}/pay")))
            .bearer_auth(&buyer.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("request sent")
    }

    async fn redeem(&self, user: &User, coupon: Uuid) -> Response {
        self.post(&format!("/v1/coupons/{coupon}/redeem"), Some(&user.token), json!({}))
            .await
    }
}

on_both_backends! {
    async fn a_coupon_lowers_the_payment_and_is_spent_with_it_once(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let (room, listing) = campaign_room(&app, &merchant).await;
        let buyer = app.guest().await;
        let first = ordered(&app, &buyer, room, listing, 2).await;
        let coupon = id(&coupon_of(&app, &buyer, first, |c| c["status"] == "active").await);
        let second = ordered(&app, &buyer, room, listing, 2).await;

        let body = Some(json!({"coupon_id": coupon}));
        let payment = expect_status(app.pay(&buyer, second, body).await, StatusCode::OK).await;
        assert_eq!(payment["amount_cents"], json!(2 * 1999 - 500), "500 off the order's 3998");
        let spent = coupon_of(&app, &buyer, first, |c| c["status"] == "redeemed").await;
        assert_eq!(spent["redeemed_order_id"], json!(second));
        assert!(spent["redeemed_at"].is_string());

        // Spent once: neither another payment nor the merchant spends it again.
        let third = ordered(&app, &buyer, room, listing, 2).await;
        let res = app.pay(&buyer, third, Some(json!({"coupon_id": coupon}))).await;
        expect_error(res, StatusCode::CONFLICT, "coupon_already_redeemed").await;
        expect_error(app.redeem(&merchant, coupon).await, StatusCode::CONFLICT, "coupon_already_redeemed").await;
        // The refused payment created nothing: paying without the coupon pays the whole amount.
        let whole = expect_status(app.pay(&buyer, third, None).await, StatusCode::OK).await;
        assert_eq!(whole["amount_cents"], json!(2 * 1999));

        // The merchant sees which were used (once the third order's coupon is issued too).
        coupon_of(&app, &buyer, third, |_| true).await;
        let path = format!("/v1/rooms/{room}/coupons?redeemed=true");
        let used = expect_status(app.get(&path, Some(&merchant.token)).await, StatusCode::OK).await;
        let used = used["items"].as_array().expect("items").clone();
        assert_eq!(used.len(), 1);
        assert_eq!(used[0]["id"], json!(coupon));
        let path = format!("/v1/rooms/{room}/coupons?redeemed=false&limit=1");
        let unused = expect_status(app.get(&path, Some(&merchant.token)).await, StatusCode::OK).await;
        assert!(unused["items"].as_array().is_some_and(|a| a.len() == 1 && a[0]["id"] != json!(coupon)));
        assert!(unused["next"].is_string(), "the third order's coupon is on the next page: {unused}");
        let viewer_view = app.get(&format!("/v1/rooms/{room}/coupons"), Some(&buyer.token)).await;
        expect_error(viewer_view, StatusCode::FORBIDDEN, "forbidden").await;
        let other = app.merchant().await;
        expect_error(app.get(&format!("/v1/rooms/{room}/coupons"), Some(&other.token)).await, StatusCode::FORBIDDEN, "forbidden").await;
        let res = app.get(&format!("/v1/rooms/{room}/coupons?redeemed=yes"), Some(&merchant.token)).await;
        expect_error(res, StatusCode::BAD_REQUEST, "bad_request").await;
    }

    async fn the_merchant_redeems_a_coupon_of_their_room_only(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let other = app.merchant().await;
        let (room, listing) = campaign_room(&app, &merchant).await;
        let buyer = app.guest().await;
        let order = ordered(&app, &buyer, room, listing, 1).await;
        let coupon = id(&coupon_of(&app, &buyer, order, |_| true).await);

        expect_error(app.redeem(&buyer, coupon).await, StatusCode::FORBIDDEN, "forbidden").await;
        expect_error(app.redeem(&other, coupon).await, StatusCode::NOT_FOUND, "not_found").await;
        expect_error(app.redeem(&merchant, Uuid::new_v4()).await, StatusCode::NOT_FOUND, "not_found").await;
        let redeemed = expect_status(app.redeem(&merchant, coupon).await, StatusCode::OK).await;
        assert_eq!(redeemed["status"], json!("redeemed"));
        assert_eq!(redeemed["redeemed_order_id"], Value::Null, "spent by the merchant, on no order");
        expect_error(app.redeem(&merchant, coupon).await, StatusCode::CONFLICT, "coupon_already_redeemed").await;
    }

    async fn a_payment_refuses_coupons_that_do_not_apply_and_changes_nothing(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let (room, listing) = campaign_room(&app, &merchant).await;
        let (other_room, other_listing) = campaign_room(&app, &merchant).await;
        let buyer = app.guest().await;
        let stranger = app.guest().await;
        let earned = ordered(&app, &buyer, room, listing, 1).await;
        let coupon = id(&coupon_of(&app, &buyer, earned, |_| true).await);

        // Below the minimum spend (1999 < 2000), another room's order, someone else's coupon.
        let small = ordered(&app, &buyer, room, listing, 1).await;
        let res = app.pay(&buyer, small, Some(json!({"coupon_id": coupon}))).await;
        let error = expect_status(res, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(error["message"].as_str().is_some_and(|m| m.contains("minimum spend")), "{error}");
        let elsewhere = ordered(&app, &buyer, other_room, other_listing, 2).await;
        let res = app.pay(&buyer, elsewhere, Some(json!({"coupon_id": coupon}))).await;
        expect_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        let theirs = ordered(&app, &stranger, room, listing, 2).await;
        let res = app.pay(&stranger, theirs, Some(json!({"coupon_id": coupon}))).await;
        expect_error(res, StatusCode::NOT_FOUND, "not_found").await;
        let res = app.pay(&buyer, small, Some(json!({"coupon_id": Uuid::new_v4()}))).await;
        expect_error(res, StatusCode::NOT_FOUND, "not_found").await;
        // Malformed bodies.
        let big = ordered(&app, &buyer, room, listing, 2).await;
        for body in [json!({"coupon": coupon}), json!({"coupon_id": "nope"}), json!([1])] {
            expect_error(app.pay(&buyer, big, Some(body)).await, StatusCode::BAD_REQUEST, "bad_request").await;
        }
        assert_eq!(coupon_of(&app, &buyer, earned, |_| true).await["status"], json!("active"), "still unspent");

        // A revoked coupon (its order cancelled) is refused by name.
        let res = app.post(&format!("/v1/orders/{earned}/cancel"), Some(&buyer.token), json!({})).await;
        expect_status(res, StatusCode::OK).await;
        coupon_of(&app, &buyer, earned, |c| c["status"] == "revoked").await;
        let res = app.pay(&buyer, big, Some(json!({"coupon_id": coupon}))).await;
        expect_error(res, StatusCode::CONFLICT, "coupon_revoked").await;
        expect_error(app.redeem(&merchant, coupon).await, StatusCode::CONFLICT, "coupon_revoked").await;
    }

    async fn an_expired_coupon_is_refused_as_expired(backend) {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let app = spawn_app_with_clock(fresh_database(backend), clock.clone(), |_| {}).await;
        let merchant = app.merchant().await;
        let (room, listing) = campaign_room(&app, &merchant).await;
        let buyer = app.guest().await;
        let earned = ordered(&app, &buyer, room, listing, 1).await;
        let coupon = id(&coupon_of(&app, &buyer, earned, |_| true).await);
        let order = ordered(&app, &buyer, room, listing, 2).await;
        clock.advance(Span::seconds(61));
        let res = app.pay(&buyer, order, Some(json!({"coupon_id": coupon}))).await;
        expect_error(res, StatusCode::CONFLICT, "coupon_expired").await;
        expect_error(app.redeem(&merchant, coupon).await, StatusCode::CONFLICT, "coupon_expired").await;
    }

    async fn twenty_concurrent_redemptions_of_one_coupon_spend_it_exactly_once(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let (room, listing) = campaign_room(&app, &merchant).await;
        let buyer = app.guest().await;
        let earned = ordered(&app, &buyer, room, listing, 1).await;
        let coupon = id(&coupon_of(&app, &buyer, earned, |_| true).await);
        let mut orders = Vec::new();
        for _ in 0..10 {
            orders.push(ordered(&app, &buyer, room, listing, 2).await);
        }
        // Ten payments of ten orders and ten merchant redemptions, all at once.
        let body = json!({"coupon_id": coupon});
        let pays = futures_util::future::join_all(orders.iter().map(|o| app.pay(&buyer, *o, Some(body.clone()))));
        let redeems = futures_util::future::join_all((0..10).map(|_| app.redeem(&merchant, coupon)));
        let (pays, redeems) = tokio::join!(pays, redeems);
        let mut spent = 0;
        for res in pays.into_iter().chain(redeems) {
            match res.status() {
                StatusCode::OK => spent += 1,
                StatusCode::CONFLICT => {
                    let body: Value = res.json().await.expect("json");
                    assert_eq!(body["error"], json!("coupon_already_redeemed"));
                }
                other => panic!("a redemption answered {other}"),
            }
        }
        assert_eq!(spent, 1, "exactly one of twenty spends the coupon");
        let discounted = query_number(
            &app.database_url,
            "SELECT COUNT(*) AS n FROM payments_payments WHERE amount_cents = 3498",
        );
        let redeemed_on_order = coupon_of(&app, &buyer, earned, |c| c["status"] == "redeemed").await["redeemed_order_id"].clone();
        assert_eq!(discounted, i64::from(!redeemed_on_order.is_null()), "a payment was discounted only if it spent the coupon");
    }
}
