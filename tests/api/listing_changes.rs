//! The merchant edits, closes and deletes listings. Edit and delete only while nobody has ordered
//! (409 `listing_has_orders` after), close at any time; every change is decided by the listing's
//! InventoryActor, so no order slips in between the check and the change.

use crate::helpers::*;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

impl TestApp {
    async fn patch_listing(&self, user: &User, room: Uuid, listing: Uuid, body: Value) -> Response {
        let url = self.url(&format!("/v1/rooms/{room}/listings/{listing}"));
        self.client
            .patch(url)
            .bearer_auth(&user.token)
            .json(&body)
            .send()
            .await
            .expect("request sent")
    }

    async fn delete_listing(&self, user: &User, room: Uuid, listing: Uuid) -> Response {
        let url = self.url(&format!("/v1/rooms/{room}/listings/{listing}"));
        self.client
            .delete(url)
            .bearer_auth(&user.token)
            .send()
            .await
            .expect("request sent")
    }

    async fn close_listing(&self, user: &User, room: Uuid, listing: Uuid) -> Response {
        self.post(
            &format!("/v1/rooms/{room}/listings/{listing}/close"),
            Some(&user.token),
            json!({}),
        )
        .await
    }

    async fn listed(&self, room: Uuid) -> Vec<Value> {
        let res = self.get(&format!("/v1/rooms/{room}/listings"), None).await;
        expect_status(res, StatusCode::OK)
            .await
            .as_array()
            .expect("an array")
            .clone()
    }
}

on_both_backends! {
    async fn a_listing_without_orders_is_edited_and_sells_by_its_new_terms(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let room = app.live_room(&merchant).await;
        let listing = app.simple_listing(&merchant, room, 5, 1).await;
        let body = json!({"title": "Oolong 100g", "price_cents": 250, "stock": 3, "per_user_limit": 2});
        let edited = expect_status(app.patch_listing(&merchant, room, listing, body).await, StatusCode::OK).await;
        assert_eq!(edited["id"], json!(listing));
        assert_eq!((edited["title"].as_str(), edited["price_cents"].as_i64()), (Some("Oolong 100g"), Some(250)));
        assert_eq!((edited["stock"].as_u64(), edited["stock_left"].as_u64()), (Some(3), Some(3)));
        let listed = app.listed(room).await;
        assert_eq!(listed[0]["per_user_limit"], json!(2));
        assert_eq!(listed[0]["stock_left"], json!(3));

        let buyer = app.guest().await;
        let order = expect_status(app.order(&buyer, room, listing, json!(2), None).await, StatusCode::CREATED).await;
        assert_eq!(order["unit_price_cents"], json!(250), "the new price");
        expect_error(app.order(&buyer, room, listing, json!(1), None).await, StatusCode::CONFLICT, "limit_exceeded").await;

        // Ordered from: its orders name its terms.
        let res = app.patch_listing(&merchant, room, listing, json!({"price_cents": 1})).await;
        expect_error(res, StatusCode::CONFLICT, "listing_has_orders").await;
        expect_error(app.delete_listing(&merchant, room, listing).await, StatusCode::CONFLICT, "listing_has_orders").await;
        assert_eq!(app.listed(room).await[0]["price_cents"], json!(250), "nothing changed");
    }

    async fn edits_are_refused_with_a_reason_and_change_nothing(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let other = app.merchant().await;
        let viewer = app.guest().await;
        let room = app.live_room(&merchant).await;
        let other_room = app.live_room(&other).await;
        let listing = app.simple_listing(&merchant, room, 5, 1).await;
        let theirs = app.simple_listing(&other, other_room, 5, 1).await;
        let ok = json!({"price_cents": 10});
        for (body, field) in [
            (json!({"price_cents": -1}), "price_cents"),
            (json!({"stock": 100_000_001}), "stock"),
            (json!({"per_user_limit": 0}), "per_user_limit"),
            (json!({"title": "  "}), "title"),
            (json!({"starts_at": "2030-01-02T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z"}), "ends_at"),
        ] {
            let res = app.patch_listing(&merchant, room, listing, body).await;
            let error = expect_status(res, StatusCode::UNPROCESSABLE_ENTITY).await;
            assert!(error["message"].as_str().is_some_and(|m| m.contains(field)), "{error}");
        }
        let res = app.patch_listing(&merchant, room, listing, json!({"price": 10})).await;
        expect_error(res, StatusCode::BAD_REQUEST, "bad_request").await;
        let res = app.patch_listing(&merchant, room, listing, json!({"stock": "many"})).await;
        expect_error(res, StatusCode::BAD_REQUEST, "bad_request").await;
        expect_error(app.patch_listing(&viewer, room, listing, ok.clone()).await, StatusCode::FORBIDDEN, "forbidden").await;
        expect_error(app.patch_listing(&other, room, listing, ok.clone()).await, StatusCode::FORBIDDEN, "forbidden").await;
        expect_error(app.delete_listing(&other, room, listing).await, StatusCode::FORBIDDEN, "forbidden").await;
        expect_error(app.close_listing(&other, room, listing).await, StatusCode::FORBIDDEN, "forbidden").await;
        // Another room's listing, through my room: as good as missing.
        expect_error(app.patch_listing(&merchant, room, theirs, ok.clone()).await, StatusCode::NOT_FOUND, "not_found").await;
        expect_error(app.delete_listing(&merchant, room, theirs).await, StatusCode::NOT_FOUND, "not_found").await;
        expect_error(app.close_listing(&merchant, room, theirs).await, StatusCode::NOT_FOUND, "not_found").await;
        expect_error(app.patch_listing(&merchant, room, Uuid::new_v4(), ok).await, StatusCode::NOT_FOUND, "not_found").await;
        let listed = app.listed(room).await;
        assert_eq!((listed[0]["price_cents"].as_i64(), listed[0]["stock"].as_u64()), (Some(1999), Some(5)), "unchanged");
        assert_eq!(app.listed(other_room).await.len(), 1, "theirs stays");
    }

    async fn a_closed_sale_refuses_later_buys_as_sale_ended_and_keeps_its_orders(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let room = app.live_room(&merchant).await;
        let listing = app.simple_listing(&merchant, room, 10, 5).await;
        let buyer = app.guest().await;
        let order = id_of(expect_status(app.order(&buyer, room, listing, json!(2), None).await, StatusCode::CREATED).await);

        let (mut ws, _welcome) = app.ws(room, &buyer.token).await;
        let closed = expect_status(app.close_listing(&merchant, room, listing).await, StatusCode::OK).await;
        assert!(closed["ends_at"].is_string(), "the sale's end is now: {closed}");
        assert_eq!(closed["stock_left"], json!(8));
        let frame = ws.until(|f| f["type"] == "sale_ended").await;
        assert_eq!(frame["listing_id"], json!(listing));

        expect_error(app.order(&buyer, room, listing, json!(1), None).await, StatusCode::CONFLICT, "sale_ended").await;
        let kept = expect_status(app.get(&format!("/v1/orders/{order}"), Some(&buyer.token)).await, StatusCode::OK).await;
        assert_eq!(kept["status"], json!("reserved"), "orders placed stand");
        // Closing again keeps the first end; closing is allowed with orders, editing is not.
        let again = expect_status(app.close_listing(&merchant, room, listing).await, StatusCode::OK).await;
        assert_eq!(again["ends_at"], closed["ends_at"]);
        let res = app.patch_listing(&merchant, room, listing, json!({"ends_at": null})).await;
        expect_error(res, StatusCode::CONFLICT, "listing_has_orders").await;
        ws.close().await;
    }

    async fn a_deleted_listing_is_gone_and_a_later_buy_gets_404(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let room = app.live_room(&merchant).await;
        let listing = app.simple_listing(&merchant, room, 10, 5).await;
        let kept = app.simple_listing(&merchant, room, 10, 5).await;
        let res = app.post(&format!("/v1/rooms/{room}/listings/{listing}/pin"), Some(&merchant.token), json!({})).await;
        expect_status(res, StatusCode::OK).await;
        let buyer = app.guest().await;
        let (mut ws, welcome) = app.ws(room, &buyer.token).await;
        assert_eq!(welcome["room"]["pinned_listing_id"], json!(listing));

        let res = app.delete_listing(&merchant, room, listing).await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        let frame = ws.until(|f| f["type"] == "pinned").await;
        assert_eq!(frame["listing_id"], Value::Null, "viewers see it unpinned");
        let listed = app.listed(room).await;
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0]["id"], json!(kept));
        expect_error(app.order(&buyer, room, listing, json!(1), None).await, StatusCode::NOT_FOUND, "not_found").await;
        expect_status(app.order(&buyer, room, kept, json!(1), None).await, StatusCode::CREATED).await;
        let shown = expect_status(app.get(&format!("/v1/rooms/{room}"), None).await, StatusCode::OK).await;
        assert_eq!(shown["pinned_listing_id"], Value::Null);
        expect_error(app.delete_listing(&merchant, room, listing).await, StatusCode::NOT_FOUND, "not_found").await;

        // Restarted from storage, the room never had it.
        let database = app.stop().await;
        let app = spawn_app_on(database).await;
        expect_error(app.order(&buyer, room, listing, json!(1), None).await, StatusCode::NOT_FOUND, "not_found").await;
        assert_eq!(app.listed(room).await.len(), 1);
        ws.close().await;
    }

    async fn a_listing_whose_only_order_was_cancelled_still_has_orders(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let room = app.live_room(&merchant).await;
        let listing = app.simple_listing(&merchant, room, 10, 5).await;
        let buyer = app.guest().await;
        let order = id_of(expect_status(app.order(&buyer, room, listing, json!(1), None).await, StatusCode::CREATED).await);
        let res = app.post(&format!("/v1/orders/{order}/cancel"), Some(&buyer.token), json!({})).await;
        expect_status(res, StatusCode::OK).await;
        // Restarted, the actor knows nothing of the cancelled order: storage does.
        let database = app.stop().await;
        let app = spawn_app_on(database).await;
        expect_error(app.delete_listing(&merchant, room, listing).await, StatusCode::CONFLICT, "listing_has_orders").await;
        let res = app.patch_listing(&merchant, room, listing, json!({"stock": 1})).await;
        expect_error(res, StatusCode::CONFLICT, "listing_has_orders").await;
        assert_eq!(app.stock_left(room, listing).await, 10);
    }

    async fn no_order_slips_in_between_the_check_and_an_edit(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let room = app.live_room(&merchant).await;
        let buyers = app.guests(12).await;
        for round in 0..4 {
            let listing = app.simple_listing(&merchant, room, 100, 5).await;
            let orders = futures_util::future::join_all(
                buyers.iter().map(|b| app.order(b, room, listing, json!(1), None)),
            );
            let edit = app.patch_listing(&merchant, room, listing, json!({"price_cents": 7}));
            let (orders, edit) = tokio::join!(orders, edit);
            let edited = edit.status();
            assert!(
                edited == StatusCode::OK || edited == StatusCode::CONFLICT,
                "round {round}: the edit answered {edited}"
            );
            let mut placed = 0;
            for res in orders {
                if res.status() == StatusCode::CREATED {
                    placed += 1;
                }
            }
            let stored = app.stored_orders(listing).await;
            assert_eq!(stored.len(), placed, "round {round}");
            // Applied: every order came after it, at the new price. Refused: nothing changed.
            let price = if edited == StatusCode::OK { 7 } else { 1999 };
            assert!(stored.iter().all(|o| o.unit_price_cents == price), "round {round}: {edited} with {stored:?}");
            assert_eq!(app.listed(room).await[round]["price_cents"], json!(price), "round {round}");
        }
    }
}
