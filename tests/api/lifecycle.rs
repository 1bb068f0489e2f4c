//! The order lifecycle with a manual clock: reservations expire at their deadline and their stock
//! returns once; payment through the sandbox provider's signed webhook makes an order paid; a
//! late payment reserves again or is refunded; repeated, forged, unsigned and stale webhooks
//! change nothing; and deadlines survive a restart.

use crate::helpers::*;
use chrono::{Duration, Utc};
use livecart_actors::{Clock, ManualClock};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;
use uuid::Uuid;

/// How long a reservation holds in the test settings (the default, 15 minutes).
const TTL: Duration = Duration::minutes(15);

/// Longer than a few expiry ticks (250 ms each), for checking that nothing happens.
const QUIET: std::time::Duration = std::time::Duration::from_millis(800);

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(Utc::now()))
}

async fn order_status(app: &TestApp, buyer: &User, order: Uuid) -> String {
    let body = expect_status(
        app.get(&format!("/v1/orders/{order}"), Some(&buyer.token)).await,
        StatusCode::OK,
    )
    .await;
    body["status"].as_str().expect("status").to_owned()
}

/// Polls until the order has `status` (bounded).
async fn wait_for_status(app: &TestApp, buyer: &User, order: Uuid, status: &str) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let now = order_status(app, buyer, order).await;
        if now == status {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "order {order} stayed {now}, never {status}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Waits until the listing shows `left` units. An order's row shows a change as soon as its batch
/// commits; its listing applies the change once the journal's log is durable (a sync later), so
/// a read of the stock right after the row's status may still see the stock before.
async fn wait_for_stock(app: &TestApp, room: Uuid, listing: Uuid, left: u64, why: &str) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let now = app.stock_left(room, listing).await;
        if now == left {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{why}: {now} left, never {left}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// How many events of `kind` the outbox holds about the order (each outbox row holds a
/// transaction's events as a JSON array). An order event's stored `type` is its kind with `_`
/// for `.` (`order.paid` is `order_paid`); the other kinds are not named so.
fn events_about(app: &TestApp, kind: &str, order: Uuid) -> i64 {
    let kind = kind.replace('.', "_");
    let sql = if app.database_url.starts_with("sqlite://") {
        format!(
            "SELECT COUNT(*) AS n FROM outbox_batches, json_each(outbox_batches.events) AS e \
             WHERE json_extract(e.value, '$.payload.type') = '{kind}' \
             AND json_extract(e.value, '$.payload.order_id') = '{order}'"
        )
    } else {
        format!(
            "SELECT COUNT(*) AS n FROM outbox_batches, json_array_elements(events::json) AS e \
             WHERE e -> 'payload' ->> 'type' = '{kind}' AND e -> 'payload' ->> 'order_id' = '{order}'"
        )
    };
    query_number(&app.database_url, &sql)
}

async fn pay(app: &TestApp, buyer: &User, order: Uuid) -> Value {
    let res = app
        .post(&format!("/v1/orders/{order}/pay"), Some(&buyer.token), json!({}))
        .await;
    expect_status(res, StatusCode::OK).await
}

/// An app on a manual clock with a live room selling one listing of `stock` units, at most
/// `limit` per buyer.
async fn shop(
    backend: Backend,
    tweak: impl FnOnce(&mut livecart::settings::Settings),
    stock: u64,
    limit: u32,
) -> (Arc<ManualClock>, TestApp, Uuid, Uuid) {
    let clock = clock();
    let app = spawn_app_with_clock(fresh_database(backend), clock.clone(), tweak).await;
    let (room, listing) = sale(&app, stock, limit).await;
    (clock, app, room, listing)
}

/// A new buyer with a reservation of `quantity` units.
async fn reserve(app: &TestApp, room: Uuid, listing: Uuid, quantity: u32) -> (User, Uuid) {
    let buyer = app.guest().await;
    let res = app.order(&buyer, room, listing, json!(quantity), None).await;
    let order = id_of(expect_status(res, StatusCode::CREATED).await);
    (buyer, order)
}

/// A live room with one listing of `stock` units, at most `limit` per buyer.
async fn sale(app: &TestApp, stock: u64, limit: u32) -> (Uuid, Uuid) {
    let merchant = app.merchant().await;
    let room = app.live_room(&merchant).await;
    let listing = app.simple_listing(&merchant, room, stock, limit).await;
    (room, listing)
}

fn sandbox(delay_ms: u64, outcome: &'static str, repeat: u32) -> impl FnOnce(&mut livecart::settings::Settings) {
    move |s| {
        s.payments.sandbox.delay_ms = delay_ms;
        s.payments.sandbox.outcome = outcome.into();
        s.payments.sandbox.repeat = repeat;
    }
}

on_both_backends! {
    async fn an_unpaid_reservation_expires_at_its_deadline_and_its_stock_returns_once(backend) {
        let (clock, app, room, listing) = shop(backend, |_| {}, 5, 5).await;
        let (buyer, order) = reserve(&app, room, listing, 2).await;

        clock.advance(TTL - Duration::seconds(1));
        tokio::time::sleep(QUIET).await;
        assert_eq!(order_status(&app, &buyer, order).await, "reserved", "not before its deadline");
        assert_eq!(app.stock_left(room, listing).await, 3);

        clock.advance(Duration::seconds(1));
        wait_for_status(&app, &buyer, order, "expired").await;
        wait_for_stock(&app, room, listing, 5, "its stock is back").await;
        clock.advance(Duration::hours(1));
        tokio::time::sleep(QUIET).await;
        assert_eq!(app.stock_left(room, listing).await, 5, "and only once");
        assert_eq!(events_about(&app, "order.expired", order), 1);
        let res = app.post(&format!("/v1/orders/{order}/pay"), Some(&buyer.token), json!({})).await;
        expect_error(res, StatusCode::CONFLICT, "not_payable").await;
    }

    async fn paying_before_the_deadline_makes_the_order_paid_for_good(backend) {
        let (clock, app, room, listing) = shop(backend, sandbox(20, "succeed", 1), 5, 5).await;
        let (buyer, order) = reserve(&app, room, listing, 1).await;

        let payment = pay(&app, &buyer, order).await;
        assert_eq!(payment["state"], "pending");
        assert_eq!(payment["provider"], "sandbox");
        assert_eq!(payment["amount_cents"], 1999);
        assert_eq!(payment["order_id"], json!(order));
        wait_for_status(&app, &buyer, order, "paid").await;

        clock.advance(TTL * 4);
        tokio::time::sleep(QUIET).await;
        assert_eq!(order_status(&app, &buyer, order).await, "paid", "a paid order never expires");
        assert_eq!(app.stock_left(room, listing).await, 4);
        assert_eq!(events_about(&app, "order.paid", order), 1);
        let again = app.post(&format!("/v1/orders/{order}/pay"), Some(&buyer.token), json!({})).await;
        expect_error(again, StatusCode::CONFLICT, "not_payable").await;
        // Another buyer's order is not this buyer's to pay.
        let other = app.guest().await;
        let theirs = id_of(expect_status(app.order(&other, room, listing, json!(1), None).await, StatusCode::CREATED).await);
        let res = app.post(&format!("/v1/orders/{theirs}/pay"), Some(&buyer.token), json!({})).await;
        expect_error(res, StatusCode::NOT_FOUND, "not_found").await;
    }

    async fn a_payment_landing_after_expiry_reserves_again_when_stock_is_left(backend) {
        let (clock, app, room, listing) = shop(backend, sandbox(3_000, "succeed", 1), 1, 1).await;
        let (buyer, order) = reserve(&app, room, listing, 1).await;
        pay(&app, &buyer, order).await;
        clock.advance(TTL + Duration::seconds(1));
        wait_for_status(&app, &buyer, order, "expired").await;
        wait_for_stock(&app, room, listing, 1, "the expired unit is back").await;

        wait_for_status(&app, &buyer, order, "paid").await;
        wait_for_stock(&app, room, listing, 0, "reserved again for the payment").await;
        let late = app.guest().await;
        expect_error(app.order(&late, room, listing, json!(1), None).await, StatusCode::CONFLICT, "sold_out").await;
    }

    async fn a_payment_landing_after_its_units_were_sold_again_is_refunded(backend) {
        let (clock, app, room, listing) = shop(backend, sandbox(3_000, "succeed", 1), 1, 1).await;
        let (buyer, order) = reserve(&app, room, listing, 1).await;
        pay(&app, &buyer, order).await;
        clock.advance(TTL + Duration::seconds(1));
        wait_for_status(&app, &buyer, order, "expired").await;
        wait_for_stock(&app, room, listing, 1, "the expired unit is back").await;
        let quicker = app.guest().await;
        expect_status(app.order(&quicker, room, listing, json!(1), None).await, StatusCode::CREATED).await;

        wait_for_status(&app, &buyer, order, "refunded").await;
        wait_for_stock(&app, room, listing, 0, "the refund takes no unit").await;
        let held = query_number(&app.database_url, &format!(
            "SELECT COALESCE(SUM(quantity), 0) AS n FROM orders_orders WHERE listing_id = '{listing}' AND status IN ('reserved', 'paid')"));
        assert_eq!(held, 1, "never sold more than the stock");
        assert_eq!(events_about(&app, "order.refunded", order), 1);
    }

    async fn a_repeated_webhook_changes_nothing(backend) {
        let (_clock, app, room, listing) = shop(backend, sandbox(20, "succeed", 3), 5, 5).await;
        let (buyer, order) = reserve(&app, room, listing, 2).await;
        pay(&app, &buyer, order).await;
        wait_for_status(&app, &buyer, order, "paid").await;
        tokio::time::sleep(QUIET).await;
        assert_eq!(events_about(&app, "order.paid", order), 1, "three deliveries, one payment");
        assert_eq!(app.stock_left(room, listing).await, 3);
    }

    async fn a_failing_provider_leaves_the_order_reserved_until_it_expires(backend) {
        let (clock, app, room, listing) = shop(backend, sandbox(20, "fail", 2), 5, 5).await;
        let (buyer, order) = reserve(&app, room, listing, 1).await;
        let first = pay(&app, &buyer, order).await;
        let payment: Uuid = first["payment_id"].as_str().and_then(|s| s.parse().ok()).expect("payment id");
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
        while app.services.payment_records.find_payment(payment).await.expect("readable").expect("stored").state
            != livecart::application::ports::payments::PaymentState::Failed
        {
            assert!(tokio::time::Instant::now() < deadline, "the payment never failed");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(order_status(&app, &buyer, order).await, "reserved");
        let second = pay(&app, &buyer, order).await;
        assert_ne!(second["payment_id"], first["payment_id"], "a failed payment can be tried again");
        clock.advance(TTL + Duration::seconds(1));
        wait_for_status(&app, &buyer, order, "expired").await;
        wait_for_stock(&app, room, listing, 5, "its stock is back").await;
    }

    async fn a_forged_unsigned_or_stale_webhook_gets_401_and_changes_nothing(backend) {
        let clock = clock();
        // The sandbox would call back only after a minute: the test plays the provider.
        let app = spawn_app_with_clock(fresh_database(backend), clock.clone(), sandbox(60_000, "succeed", 1)).await;
        let (room, listing) = sale(&app, 5, 5).await;
        let (buyer, order) = reserve(&app, room, listing, 1).await;
        let payment = pay(&app, &buyer, order).await;
        let body = serde_json::to_vec(&json!({
            "id": "evt_test", "type": "payment.succeeded",
            "data": {"payment_id": payment["payment_id"], "order_id": order, "amount_cents": 1999},
        })).expect("json");
        let secret = livecart::settings::Settings::load_for("test").expect("settings").payments.webhook_secret;
        let send = |signature: Option<String>| {
            let mut req = app.client.post(app.url("/v1/payments/webhook")).body(body.clone());
            if let Some(signature) = signature {
                req = req.header("Livecart-Signature", signature);
            }
            req.send()
        };
        use livecart::external::webhook_signature::sign;
        let refusals = [
            None,
            Some(sign("whsec-somebody-else", clock.now(), &body)),
            Some(sign(&secret, clock.now() - Duration::minutes(10), &body)),
            Some("t=1,v1=deadbeef".to_owned()),
        ];
        for signature in refusals {
            let res = send(signature.clone()).await.expect("sent");
            expect_error(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
        }
        assert_eq!(order_status(&app, &buyer, order).await, "reserved", "nothing changed");
        assert_eq!(app.stock_left(room, listing).await, 4);

        let res = send(Some(sign(&secret, clock.now(), &body))).await.expect("sent");
        expect_status(res, StatusCode::OK).await;
        assert_eq!(order_status(&app, &buyer, order).await, "paid");
        let res = send(Some(sign(&secret, clock.now(), &body))).await.expect("sent");
        expect_status(res, StatusCode::OK).await;
        assert_eq!(events_about(&app, "order.paid", order), 1, "a repeat changes nothing");
    }

    async fn after_a_restart_overdue_reservations_expire_at_once_and_the_rest_on_time(backend) {
        let (clock, app, room, listing) = shop(backend, |_| {}, 5, 5).await;
        let buyer = app.guest().await;
        let early = id_of(expect_status(app.order(&buyer, room, listing, json!(1), None).await, StatusCode::CREATED).await);
        clock.advance(Duration::minutes(10));
        let later = id_of(expect_status(app.order(&buyer, room, listing, json!(1), None).await, StatusCode::CREATED).await);
        let database = app.stop().await;

        clock.advance(Duration::minutes(6));
        let app = spawn_app_with_clock(database, clock.clone(), |_| {}).await;
        wait_for_status(&app, &buyer, early, "expired").await;
        tokio::time::sleep(QUIET).await;
        assert_eq!(order_status(&app, &buyer, later).await, "reserved", "not due yet");
        assert_eq!(app.stock_left(room, listing).await, 4);
        clock.advance(Duration::minutes(10));
        wait_for_status(&app, &buyer, later, "expired").await;
        wait_for_stock(&app, room, listing, 5, "both units are back").await;
        assert_eq!(events_about(&app, "order.expired", early), 1);
        assert_eq!(events_about(&app, "order.expired", later), 1);
    }

    async fn paying_one_order_many_times_at_once_starts_one_payment(backend) {
        // The provider takes a while, so every request arrives while the first is pending.
        let (_clock, app, room, listing) = shop(backend, sandbox(3_000, "succeed", 1), 5, 5).await;
        let (buyer, order) = reserve(&app, room, listing, 1).await;

        let pays = futures_util::future::join_all((0..8).map(|_| pay(&app, &buyer, order))).await;
        let ids: std::collections::HashSet<&str> = pays.iter().filter_map(|p| p["payment_id"].as_str()).collect();
        assert_eq!(ids.len(), 1, "every answer names the one payment: {ids:?}");
        let stored = query_number(
            &app.database_url,
            &format!("SELECT COUNT(*) AS n FROM payments_payments WHERE order_id = '{order}'"),
        );
        assert_eq!(stored, 1, "one payment stored for the order");
    }
}
