//! The merchant's views: their own rooms, and a room's orders, paged and filtered; nobody else
//! sees them.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashSet;

/// Follows `next` until it is absent; every item of every page.
pub async fn all_pages(app: &TestApp, path: &str, token: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let glue = if path.contains('?') { '&' } else { '?' };
        let url = match &cursor {
            Some(c) => format!("{path}{glue}cursor={c}"),
            None => path.to_owned(),
        };
        let page = expect_status(app.get(&url, Some(token)).await, StatusCode::OK).await;
        items.extend(page["items"].as_array().expect("items").iter().cloned());
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return items,
        }
    }
    panic!("paging never ended");
}

on_both_backends! {
    async fn a_merchant_lists_their_rooms_page_by_page_and_sees_only_theirs(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let other = app.merchant().await;
        let mut mine = HashSet::new();
        for _ in 0..5 {
            mine.insert(app.room(&merchant).await.to_string());
        }
        app.room(&other).await;
        let listed = all_pages(&app, "/v1/rooms?limit=2", &merchant.token).await;
        let ids: HashSet<String> = listed.iter().map(|r| r["id"].as_str().expect("id").to_owned()).collect();
        assert_eq!(listed.len(), 5, "no room twice, none missing");
        assert_eq!(ids, mine);
        assert!(listed.iter().all(|r| r["stream"]["push_url"].is_string()), "the owner sees the stream");

        let viewer = app.guest().await;
        expect_error(app.get("/v1/rooms", Some(&viewer.token)).await, StatusCode::FORBIDDEN, "forbidden").await;
        expect_error(app.get("/v1/rooms", None).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
        expect_error(app.get("/v1/rooms?limit=0", Some(&merchant.token)).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        expect_error(app.get("/v1/rooms?cursor=nonsense", Some(&merchant.token)).await, StatusCode::BAD_REQUEST, "bad_request").await;
        expect_error(app.get("/v1/rooms?limt=2", Some(&merchant.token)).await, StatusCode::BAD_REQUEST, "bad_request").await;
    }

    async fn a_merchant_pages_through_a_rooms_orders_by_status_and_listing(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let room = app.live_room(&merchant).await;
        let tea = app.simple_listing(&merchant, room, 100, 100).await;
        let cups = app.simple_listing(&merchant, room, 100, 100).await;
        let buyer = app.guest().await;
        let mut placed = Vec::new();
        for i in 0..7 {
            let listing = if i % 2 == 0 { tea } else { cups };
            placed.push(id_of(expect_status(app.order(&buyer, room, listing, json!(1), None).await, StatusCode::CREATED).await));
        }
        let cancelled = placed[0];
        expect_status(app.post(&format!("/v1/orders/{cancelled}/cancel"), Some(&buyer.token), json!({})).await, StatusCode::OK).await;

        let path = format!("/v1/rooms/{room}/orders");
        let all = all_pages(&app, &format!("{path}?limit=3"), &merchant.token).await;
        assert_eq!(all.len(), 7);
        let ids: HashSet<String> = all.iter().map(|o| o["id"].as_str().expect("id").to_owned()).collect();
        assert_eq!(ids, placed.iter().map(|id| id.to_string()).collect());
        let created: Vec<&str> = all.iter().map(|o| o["created_at"].as_str().expect("time")).collect();
        assert!(created.windows(2).all(|w| w[0] >= w[1]), "newest first: {created:?}");

        let reserved = all_pages(&app, &format!("{path}?status=reserved"), &merchant.token).await;
        assert_eq!(reserved.len(), 6);
        let gone = all_pages(&app, &format!("{path}?status=cancelled"), &merchant.token).await;
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0]["id"], json!(cancelled));
        let of_tea = all_pages(&app, &format!("{path}?listing_id={tea}&limit=1"), &merchant.token).await;
        assert_eq!(of_tea.len(), 4);
        assert!(of_tea.iter().all(|o| o["listing_id"] == json!(tea)));

        // Another room's listing filters down to nothing, never to that room's orders.
        let other = app.merchant().await;
        let their_room = app.live_room(&other).await;
        let theirs = app.simple_listing(&other, their_room, 10, 10).await;
        expect_status(app.order(&buyer, their_room, theirs, json!(1), None).await, StatusCode::CREATED).await;
        assert!(all_pages(&app, &format!("{path}?listing_id={theirs}"), &merchant.token).await.is_empty());
        expect_error(app.get(&path, Some(&other.token)).await, StatusCode::FORBIDDEN, "forbidden").await;
        expect_error(app.get(&path, Some(&buyer.token)).await, StatusCode::FORBIDDEN, "forbidden").await;
        expect_error(app.get(&format!("{path}?status=lost"), Some(&merchant.token)).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        let nowhere = uuid::Uuid::new_v4();
        expect_error(app.get(&format!("/v1/rooms/{nowhere}/orders"), Some(&merchant.token)).await, StatusCode::NOT_FOUND, "not_found").await;
    }
}
