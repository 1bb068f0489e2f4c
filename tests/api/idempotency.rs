use crate::helpers::*;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashSet;

on_both_backends! {
    async fn one_key_sent_fifty_times_at_once_makes_one_order(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let buyer = app.guest().await;
        let room = app.live_room(&merchant).await;
        let listing = app.simple_listing(&merchant, room, 10, 5).await;

        let answers = join_all((0..50).map(|_| app.order(&buyer, room, listing, json!(2), Some("checkout-42")))).await;
        let mut ids = HashSet::new();
        let mut created = 0;
        for res in answers {
            let status = res.status();
            assert!(status == StatusCode::CREATED || status == StatusCode::OK, "{status}");
            created += usize::from(status == StatusCode::CREATED);
            let body: Value = res.json().await.expect("json");
            ids.insert(id_of(body));
        }
        assert_eq!(ids.len(), 1, "every answer names the same order");
        assert_eq!(created, 1, "only the first call creates");
        assert_eq!(app.stock_left(room, listing).await, 8, "stock is taken once");
        assert_eq!(app.stored_orders(listing).await.len(), 1);

        let res = app.order(&buyer, room, listing, json!(3), Some("checkout-42")).await;
        expect_error(res, StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused").await;
        let other = app.simple_listing(&merchant, room, 10, 5).await;
        let res = app.order(&buyer, room, other, json!(2), Some("checkout-42")).await;
        expect_error(res, StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused").await;
        assert_eq!(app.stock_left(room, other).await, 10, "the refused reuse took nothing");
        assert!(app.stored_orders(other).await.is_empty());

        // Another buyer may use the same key for their own order.
        let someone = app.guest().await;
        expect_status(app.order(&someone, room, listing, json!(1), Some("checkout-42")).await, StatusCode::CREATED).await;
    }
}
