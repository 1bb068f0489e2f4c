//! A buyer's own lists, `GET /v1/orders` and `GET /v1/coupons`: the whole list as the contract
//! has it, or `{items, next}` pages once the client asks with `limit` or `cursor`.

use crate::helpers::*;
use crate::merchant_views::all_pages;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["id"].as_str().expect("an id").to_owned())
        .collect()
}

/// The whole list, once it has `n` items (coupons follow events, so this polls, bounded).
async fn whole_list_of(app: &TestApp, path: &str, buyer: &User, n: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let list = expect_status(app.get(path, Some(&buyer.token)).await, StatusCode::OK).await;
        let items = list.as_array().expect("a bare array without paging parameters").clone();
        if items.len() >= n {
            return items;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} has {} of {n} items in time",
            items.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Refusals every paged list shares: a cursor the server never gave, a limit out of range, an
/// unknown parameter, no token.
async fn paging_refusals(app: &TestApp, path: &str, buyer: &User) {
    let token = Some(buyer.token.as_str());
    expect_error(
        app.get(&format!("{path}?cursor=nonsense"), token).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    expect_error(
        app.get(&format!("{path}?cursor=1_2&limit=5"), token).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    expect_error(
        app.get(&format!("{path}?limit=0"), token).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    expect_error(
        app.get(&format!("{path}?limit=201"), token).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    expect_error(
        app.get(&format!("{path}?limit=x"), token).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    expect_error(
        app.get(&format!("{path}?limt=2"), token).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    expect_error(app.get(path, None).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

on_both_backends! {
    async fn a_buyer_pages_through_their_orders_and_sees_each_exactly_once_in_order(backend) {
        const N: usize = 23;
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let room = app.live_room(&merchant).await;
        let listing = app.simple_listing(&merchant, room, 1000, 100).await;
        let buyer = app.guest().await;
        let other = app.guest().await;
        let mut placed = HashSet::new();
        for i in 0..N {
            let order = expect_status(app.order(&buyer, room, listing, json!(1), None).await, StatusCode::CREATED).await;
            placed.insert(order["id"].as_str().expect("id").to_owned());
            if i % 5 == 0 {
                expect_status(app.order(&other, room, listing, json!(1), None).await, StatusCode::CREATED).await;
            }
        }

        // No paging parameter: the contract's bare array, newest first, only the caller's.
        let whole = whole_list_of(&app, "/v1/orders", &buyer, N).await;
        assert_eq!(ids(&whole).into_iter().collect::<HashSet<_>>(), placed);
        assert_eq!(whole.len(), N);
        let times: Vec<&str> = whole.iter().map(|o| o["created_at"].as_str().expect("created_at")).collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first: {times:?}");

        // Pages of every size give every order exactly once, in the same order as the whole list.
        for limit in [1, 4, 23, 200] {
            let paged = all_pages(&app, &format!("/v1/orders?limit={limit}"), &buyer.token).await;
            assert_eq!(ids(&paged), ids(&whole), "limit {limit}");
        }
        let first = expect_status(app.get("/v1/orders?limit=10", Some(&buyer.token)).await, StatusCode::OK).await;
        assert_eq!(first["items"].as_array().expect("items").len(), 10);
        let next = first["next"].as_str().expect("more to come").to_owned();
        // A cursor alone pages too, with the default size.
        let rest = expect_status(app.get(&format!("/v1/orders?cursor={next}"), Some(&buyer.token)).await, StatusCode::OK).await;
        assert_eq!(ids(rest["items"].as_array().expect("items")), ids(&whole)[10..].to_vec());
        assert!(rest.get("next").is_none(), "the last page has no next: {rest}");

        paging_refusals(&app, "/v1/orders", &buyer).await;
    }

    async fn a_buyer_pages_through_their_coupons_and_sees_each_exactly_once_in_order(backend) {
        const N: usize = 9;
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let room = app.live_room(&merchant).await;
        let listing = app.simple_listing(&merchant, room, 1000, 100).await;
        let body = json!({"amount_off_cents": 100, "min_spend_cents": 0, "valid_for_s": 86400});
        expect_status(app.post(&format!("/v1/rooms/{room}/coupon-campaign"), Some(&merchant.token), body).await, StatusCode::CREATED).await;
        let buyer = app.guest().await;
        let other = app.guest().await;
        for _ in 0..N {
            expect_status(app.order(&buyer, room, listing, json!(1), None).await, StatusCode::CREATED).await;
        }
        expect_status(app.order(&other, room, listing, json!(1), None).await, StatusCode::CREATED).await;

        let whole = whole_list_of(&app, "/v1/coupons", &buyer, N).await;
        assert_eq!(whole.len(), N, "one coupon per order, only the caller's");
        for limit in [1, 2, 9, 50] {
            let paged = all_pages(&app, &format!("/v1/coupons?limit={limit}"), &buyer.token).await;
            assert_eq!(ids(&paged), ids(&whole), "limit {limit}");
        }
        let empty = app.guest().await;
        let page = expect_status(app.get("/v1/coupons?limit=5", Some(&empty.token)).await, StatusCode::OK).await;
        assert_eq!(page, json!({"items": []}), "an empty page, with no next");

        paging_refusals(&app, "/v1/coupons", &buyer).await;
    }
}
