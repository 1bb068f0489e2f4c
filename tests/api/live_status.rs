//! Ending a live stops the selling before the end is committed: no order is decided after the
//! moment the room is recorded as ended, however hard buyers are pushing at that moment.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The room's recorded end and the latest order decision, in stored milliseconds.
fn end_and_last_order(database_url: &str, room: uuid::Uuid, listing: uuid::Uuid) -> (i64, i64) {
    let ended = query_number(
        database_url,
        &format!("SELECT ended_at AS n FROM live_rooms WHERE id = '{room}'"),
    );
    let last = query_number(
        database_url,
        &format!("SELECT COALESCE(MAX(created_at), 0) AS n FROM orders_orders WHERE listing_id = '{listing}'"),
    );
    (ended, last)
}

on_both_backends! {
    async fn no_order_is_decided_after_the_room_is_recorded_as_ended(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let room = app.live_room(&merchant).await;
        let listing = app.simple_listing(&merchant, room, 100_000, 10_000).await;
        let buyers = Arc::new(app.guests(32).await);
        let ended = Arc::new(AtomicBool::new(false));
        let lanes: Vec<_> = (0..32)
            .map(|lane| {
                let (api, buyers, ended) = (Api::new(app.address.clone()), buyers.clone(), ended.clone());
                actix_web::rt::spawn(async move {
                    let mut after_end = 0;
                    // Keep buying until a few refusals after the end have come back.
                    while after_end < 3 {
                        let seen_end = ended.load(Ordering::SeqCst);
                        let res = api.order(&buyers[lane], room, listing, json!(1), None).await;
                        if seen_end {
                            assert_ne!(res.status(), StatusCode::CREATED, "an order was accepted after the end was answered");
                            after_end += 1;
                        }
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let res = app.post(&format!("/v1/rooms/{room}/end"), Some(&merchant.token), json!({})).await;
        expect_status(res, StatusCode::OK).await;
        ended.store(true, Ordering::SeqCst);
        for lane in lanes {
            lane.await.expect("lane");
        }
        let (ended_at, last_order) = end_and_last_order(&app.database_url, room, listing);
        assert!(last_order > 0, "orders were placed before the end");
        assert!(last_order <= ended_at, "an order was decided {} ms after the recorded end", last_order - ended_at);
    }
}
