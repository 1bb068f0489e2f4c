//! Idle rooms stop and come back: a room with nobody in it and nothing pending is passivated,
//! its next order rebuilds it from storage with stock and limits intact, and a room hammered
//! in bursts while it passivates between them never runs twice at once (never oversold).

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

/// Waits (bounded) until no room runs in the app.
async fn until_passivated(app: &TestApp) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.services.directory.rooms_running() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the idle room was not passivated"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn held_units(app: &TestApp, listing: uuid::Uuid) -> i64 {
    query_number(
        &app.database_url,
        &format!(
            "SELECT COALESCE(SUM(quantity), 0) AS n FROM orders_orders WHERE listing_id = '{listing}' AND status IN ('reserved', 'paid')"
        ),
    )
}

on_both_backends! {
    async fn an_idle_room_stops_and_its_next_order_continues_stock_and_limits(backend) {
        let app = spawn_app_with(fresh_database(backend), |s| {
            s.actors.passivate_after_ms = 200;
            s.payments.sandbox.delay_ms = 10;
        })
        .await;
        let merchant = app.merchant().await;
        let room = app.live_room(&merchant).await;
        let listing = app.simple_listing(&merchant, room, 10, 3).await;
        let buyer = app.guest().await;
        let order = id_of(expect_status(app.order(&buyer, room, listing, json!(2), None).await, StatusCode::CREATED).await);
        // A pending reservation keeps the room running (its deadline needs the actor): pay it.
        expect_status(app.post(&format!("/v1/orders/{order}/pay"), Some(&buyer.token), json!({})).await, StatusCode::OK).await;
        until_passivated(&app).await;

        expect_error(app.order(&buyer, room, listing, json!(2), None).await, StatusCode::CONFLICT, "limit_exceeded").await;
        expect_status(app.order(&buyer, room, listing, json!(1), None).await, StatusCode::CREATED).await;
        assert_eq!(app.stock_left(room, listing).await, 7);
        assert_eq!(app.services.directory.rooms_running(), 1, "the room runs again");
    }

    async fn a_room_hammered_between_passivations_is_never_oversold(backend) {
        const STOCK: i64 = 20;
        let app = spawn_app_with(fresh_database(backend), |s| {
            s.actors.passivate_after_ms = 50;
            s.orders.reservation_ttl_s = 1;
        })
        .await;
        let merchant = app.merchant().await;
        let room = app.live_room(&merchant).await;
        let listing = app.simple_listing(&merchant, room, STOCK as u64, 10_000).await;
        let buyers = app.guests(30).await;
        let mut acknowledged = Vec::new();
        for round in 0..10 {
            let answers = futures_util::future::join_all(buyers.iter().map(|b| app.order(b, room, listing, json!(1), None))).await;
            for res in answers {
                let status = res.status();
                let body: serde_json::Value = res.json().await.expect("json");
                match status {
                    StatusCode::CREATED => acknowledged.push(body["id"].as_str().expect("id").to_owned()),
                    StatusCode::CONFLICT => assert_eq!(body["error"], "sold_out", "{body}"),
                    other => assert_eq!(other, StatusCode::SERVICE_UNAVAILABLE, "round {round}: {body}"),
                }
                let held = held_units(&app, listing);
                assert!(held <= STOCK, "round {round}: {held} units held of {STOCK}");
            }
            // The reservations expire after a second (found within the 250 ms expiry tick), and
            // the room stops once seen idle twice 50 ms apart: from about 1.2 s after a burst.
            // The gaps run from well before that to well after it, so early rounds find the
            // room still running, middle ones land while it is being passivated, and the later
            // ones each find it stopped, whatever the machine's load does to the timing.
            let gap = Duration::from_millis(900 + 100 * round as u64);
            let deadline = tokio::time::Instant::now() + gap;
            while tokio::time::Instant::now() < deadline {
                let held = held_units(&app, listing);
                assert!(held <= STOCK, "round {round}: {held} units held of {STOCK}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        let passivations = app.services.directory.passivated_total();
        assert!(passivations >= 3, "the room went through its passivations: {passivations}");
        let stored = app.stored_orders(listing).await;
        for id in &acknowledged {
            assert!(stored.iter().any(|o| o.id.to_string() == *id), "acknowledged order {id} is stored");
        }
    }
}
