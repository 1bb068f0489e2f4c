//! SQLite lets one connection write at a time, and its busy handler sleeps 1, 2, 5, 10 … ms
//! between tries, which a journal commit behind another writer would add to every order of its
//! batch. The server's writers take turns in-process instead. With `busy_timeout` at zero any
//! write that found the lock taken would fail at once ("database is locked"), so a sale with every
//! kind of writer at work at the same moment shows whether any writer still collides.

use crate::helpers::*;
use futures_util::stream::{self, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashSet;
use uuid::Uuid;

#[actix_web::test]
async fn every_writer_takes_its_turn_so_none_meets_a_locked_sqlite_database() {
    let app = spawn_app_with(fresh_database(Backend::Sqlite), |s| {
        s.database.sqlite_busy_timeout_ms = 0
    })
    .await;
    let merchant = app.merchant().await;
    let room = app.live_room(&merchant).await;
    let listing = app.simple_listing(&merchant, room, 100_000, 1_000).await;
    let campaign = json!({"amount_off_cents": 100, "min_spend_cents": 0, "valid_for_s": 86400});
    let res = app
        .post(
            &format!("/v1/rooms/{room}/coupon-campaign"),
            Some(&merchant.token),
            campaign,
        )
        .await;
    expect_status(res, StatusCode::CREATED).await;
    let buyers = app.guests(40).await;

    // Orders (the journal), each one's coupon (the relay and the coupon consumer), payments,
    // guests registering and viewers coming and going (session and room snapshots), all at once.
    #[derive(Clone, Copy)]
    enum Work<'a> {
        Order(&'a User),
        OrderAndPay(&'a User),
        Register,
        Visit(&'a User),
    }
    let work: Vec<Work> = buyers
        .iter()
        .cycle()
        .take(400)
        .enumerate()
        .map(|(i, buyer)| match i % 4 {
            0 => Work::Order(buyer),
            1 => Work::OrderAndPay(buyer),
            2 => Work::Register,
            _ => Work::Visit(buyer),
        })
        .collect();
    let answers: Vec<(&'static str, StatusCode, Value)> = stream::iter(work)
        .map(|work| {
            let app = &app;
            async move {
                match work {
                    Work::Order(buyer) => {
                        let res = app.order(buyer, room, listing, json!(1), None).await;
                        ("order", res.status(), res.json().await.unwrap_or(Value::Null))
                    }
                    Work::OrderAndPay(buyer) => {
                        let res = app.order(buyer, room, listing, json!(1), None).await;
                        if res.status() != StatusCode::CREATED {
                            return ("order", res.status(), res.json().await.unwrap_or(Value::Null));
                        }
                        let order = id_of(res.json().await.expect("json"));
                        let res = app
                            .post(&format!("/v1/orders/{order}/pay"), Some(&buyer.token), json!({}))
                            .await;
                        ("pay", res.status(), res.json().await.unwrap_or(Value::Null))
                    }
                    Work::Register => {
                        let res = app.post("/v1/auth/guest", None, json!({"nickname": "newcomer"})).await;
                        ("guest", res.status(), res.json().await.unwrap_or(Value::Null))
                    }
                    Work::Visit(buyer) => {
                        let (mut ws, _) = app.ws(room, &buyer.token).await;
                        ws.send_json(json!({"type": "like", "count": 1})).await;
                        ws.close().await;
                        ("visit", StatusCode::OK, Value::Null)
                    }
                }
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;

    for (what, status, body) in &answers {
        assert!(status.is_success(), "{what} answered {status}: {body}");
    }
    let placed: HashSet<Uuid> = answers
        .iter()
        .filter(|(what, ..)| *what == "order")
        .map(|(_, _, body)| id_of(body.clone()))
        .collect();
    let stored = app.stored_orders(listing).await;
    assert_eq!(stored.len(), 200, "every order placed is stored");
    assert!(placed.iter().all(|id| stored.iter().any(|o| o.id == *id)));
    assert_eq!(app.stock_left(room, listing).await, 100_000 - 200);
}
