use crate::helpers::*;
use livecart::application::ports::Window;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;
use uuid::Uuid;

/// The buyer's coupon for `order` once it satisfies `wanted`; coupons follow events, so this
/// polls, and fails after a bounded wait.
async fn coupon_when(app: &TestApp, buyer: &User, order: Uuid, wanted: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let list = expect_status(app.get("/v1/coupons", Some(&buyer.token)).await, StatusCode::OK).await;
        let coupon = list
            .as_array()
            .and_then(|a| a.iter().find(|c| c["order_id"] == json!(order)).cloned());
        if let Some(coupon) = coupon.filter(|c| wanted(c)) {
            return coupon;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no such coupon for {order} in time: {list}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

on_both_backends! {
    async fn every_order_in_a_campaign_room_earns_exactly_one_coupon(backend) {
        const N: usize = 12;
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let room = app.live_room(&merchant).await;
        let listing = app.simple_listing(&merchant, room, 100, 5).await;
        let early = app.guest().await;
        expect_status(app.order(&early, room, listing, json!(1), None).await, StatusCode::CREATED).await;

        let body = json!({"amount_off_cents": 500, "min_spend_cents": 2000, "valid_for_s": 86400});
        let res = app.post(&format!("/v1/rooms/{room}/coupon-campaign"), Some(&merchant.token), body).await;
        expect_status(res, StatusCode::CREATED).await;
        let res = app.post(&format!("/v1/rooms/{room}/coupon-campaign"), Some(&merchant.token), json!({"amount_off_cents": 0, "min_spend_cents": 0, "valid_for_s": 10})).await;
        expect_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;

        let buyers = app.guests(N).await;
        let mut orders = Vec::new();
        for buyer in &buyers {
            let order = expect_status(app.order(buyer, room, listing, json!(1), None).await, StatusCode::CREATED).await;
            orders.push(id_of(order));
        }

        // Coupons come from the order.created event, after the order is acknowledged.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        for (buyer, order) in buyers.iter().zip(&orders) {
            let coupons = loop {
                let list = expect_status(app.get("/v1/coupons", Some(&buyer.token)).await, StatusCode::OK).await;
                if list.as_array().is_some_and(|a| !a.is_empty()) || tokio::time::Instant::now() > deadline {
                    break list;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            let coupons: &Vec<Value> = coupons.as_array().expect("array");
            assert_eq!(coupons.len(), 1, "one coupon per order: {coupons:?}");
            assert_eq!(coupons[0]["order_id"], json!(order));
            assert_eq!(coupons[0]["room_id"], json!(room));
            assert_eq!(coupons[0]["amount_off_cents"], 500);
        }
        let none = expect_status(app.get("/v1/coupons", Some(&early.token)).await, StatusCode::OK).await;
        assert_eq!(none.as_array().map(Vec::len), Some(0), "an order before the campaign earns nothing");
    }

    async fn a_replayed_order_created_event_issues_nothing_new(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let room = app.live_room(&merchant).await;
        let listing = app.simple_listing(&merchant, room, 10, 5).await;
        let body = json!({"amount_off_cents": 100, "min_spend_cents": 0, "valid_for_s": 3600});
        expect_status(app.post(&format!("/v1/rooms/{room}/coupon-campaign"), Some(&merchant.token), body).await, StatusCode::CREATED).await;
        let buyer = app.guest().await;
        let order = id_of(expect_status(app.order(&buyer, room, listing, json!(1), None).await, StatusCode::CREATED).await);

        let event = livecart_actors::events::DomainEvent::new(chrono::Utc::now(), livecart_actors::events::EventPayload::OrderCreated {
            order_id: order, room_id: room, listing_id: listing, user_id: buyer.id, quantity: 1, total_cents: 1999,
        });
        use livecart_actors::events::EventHandler;
        let handler = livecart::application::issue_coupon::IssueCoupon::new(app.services.marketing.clone());
        handler.handle(std::sync::Arc::from(vec![event.clone()])).await.expect("first delivery");
        handler.handle(std::sync::Arc::from(vec![event.clone(), event])).await.expect("second delivery, twice over");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let coupons = app.services.marketing.coupons_of_user(buyer.id, Window::ALL).await.expect("coupons");
        assert_eq!(coupons.len(), 1, "the order has one coupon whatever the deliveries");
    }

    async fn a_cancelled_orders_coupon_is_revoked_so_buying_and_cancelling_farms_nothing(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let room = app.live_room(&merchant).await;
        let listing = app.simple_listing(&merchant, room, 10, 5).await;
        let body = json!({"amount_off_cents": 300, "min_spend_cents": 0, "valid_for_s": 3600});
        expect_status(app.post(&format!("/v1/rooms/{room}/coupon-campaign"), Some(&merchant.token), body).await, StatusCode::CREATED).await;
        let buyer = app.guest().await;

        let mut cancelled = Vec::new();
        for _ in 0..3 {
            let order = id_of(expect_status(app.order(&buyer, room, listing, json!(1), None).await, StatusCode::CREATED).await);
            let active = coupon_when(&app, &buyer, order, |c| c["status"] == "active").await;
            assert_eq!(active["revoked_at"], Value::Null, "{active}");
            let res = app.post(&format!("/v1/orders/{order}/cancel"), Some(&buyer.token), json!({})).await;
            expect_status(res, StatusCode::OK).await;
            let revoked = coupon_when(&app, &buyer, order, |c| c["status"] == "revoked").await;
            assert!(revoked["revoked_at"].as_str().is_some_and(|t| t.parse::<chrono::DateTime<chrono::Utc>>().is_ok()), "{revoked}");
            cancelled.push((order, revoked["revoked_at"].clone()));
        }
        let kept = id_of(expect_status(app.order(&buyer, room, listing, json!(1), None).await, StatusCode::CREATED).await);
        coupon_when(&app, &buyer, kept, |c| c["status"] == "active").await;
        let list = expect_status(app.get("/v1/coupons", Some(&buyer.token)).await, StatusCode::OK).await;
        let active: Vec<&Value> = list.as_array().expect("array").iter().filter(|c| c["status"] == "active").collect();
        assert_eq!(active.len(), 1, "only the order still standing keeps its coupon: {list}");
        assert_eq!(active[0]["order_id"], json!(kept));

        // A cancellation delivered again (a replay, or twice in one batch) changes nothing.
        use livecart_actors::events::{DomainEvent, EventHandler, EventPayload};
        let (order, first_revoked_at) = cancelled[0].clone();
        let event = DomainEvent::new(chrono::Utc::now() + chrono::Duration::hours(1), EventPayload::OrderCancelled {
            order_id: order, room_id: room, listing_id: listing, user_id: buyer.id, quantity: 1,
        });
        let handler = livecart::application::issue_coupon::IssueCoupon::new(app.services.marketing.clone());
        handler.handle(std::sync::Arc::from(vec![event.clone(), event])).await.expect("delivered");
        let again = coupon_when(&app, &buyer, order, |_| true).await;
        assert_eq!((again["status"].clone(), again["revoked_at"].clone()), (json!("revoked"), first_revoked_at));
        coupon_when(&app, &buyer, kept, |c| c["status"] == "active").await;
    }
}

on_both_backends! {
    async fn the_merchant_reads_and_stops_the_campaign_and_later_orders_earn_nothing(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let room = app.live_room(&merchant).await;
        let listing = app.simple_listing(&merchant, room, 10, 5).await;
        let path = format!("/v1/rooms/{room}/coupon-campaign");
        expect_error(app.get(&path, Some(&merchant.token)).await, StatusCode::NOT_FOUND, "not_found").await;
        let body = json!({"amount_off_cents": 300, "min_spend_cents": 1000, "valid_for_s": 3600});
        expect_status(app.post(&path, Some(&merchant.token), body).await, StatusCode::CREATED).await;
        let campaign = expect_status(app.get(&path, Some(&merchant.token)).await, StatusCode::OK).await;
        assert_eq!(campaign["amount_off_cents"], 300, "{campaign}");
        assert_eq!(campaign["room_id"], json!(room));

        let rival = app.merchant().await;
        expect_error(app.get(&path, Some(&rival.token)).await, StatusCode::FORBIDDEN, "forbidden").await;
        let stop = |token: &str| app.client.delete(app.url(&path)).bearer_auth(token).send();
        expect_error(stop(&rival.token).await.expect("sent"), StatusCode::FORBIDDEN, "forbidden").await;

        let early = app.guest().await;
        expect_status(app.order(&early, room, listing, json!(1), None).await, StatusCode::CREATED).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while app.get("/v1/coupons", Some(&early.token)).await.json::<Value>().await.expect("json").as_array().is_none_or(|a| a.is_empty()) {
            assert!(tokio::time::Instant::now() < deadline, "the early order earned its coupon");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        assert_eq!(stop(&merchant.token).await.expect("sent").status(), StatusCode::NO_CONTENT);
        expect_error(stop(&merchant.token).await.expect("sent"), StatusCode::NOT_FOUND, "not_found").await;
        expect_error(app.get(&path, Some(&merchant.token)).await, StatusCode::NOT_FOUND, "not_found").await;
        let late = app.guest().await;
        expect_status(app.order(&late, room, listing, json!(1), None).await, StatusCode::CREATED).await;
        // Events are handled in commit order: once an order placed after it under a new
        // campaign has its coupon, the late order's event has been handled too.
        let body = json!({"amount_off_cents": 100, "min_spend_cents": 0, "valid_for_s": 3600});
        expect_status(app.post(&path, Some(&merchant.token), body).await, StatusCode::CREATED).await;
        let witness = app.guest().await;
        expect_status(app.order(&witness, room, listing, json!(1), None).await, StatusCode::CREATED).await;
        while app.get("/v1/coupons", Some(&witness.token)).await.json::<Value>().await.expect("json").as_array().is_none_or(|a| a.is_empty()) {
            assert!(tokio::time::Instant::now() < deadline, "the witness earned its coupon");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let none = expect_status(app.get("/v1/coupons", Some(&late.token)).await, StatusCode::OK).await;
        assert_eq!(none.as_array().map(Vec::len), Some(0), "no coupon after the campaign stopped");
        let kept = expect_status(app.get("/v1/coupons", Some(&early.token)).await, StatusCode::OK).await;
        assert_eq!(kept.as_array().map(Vec::len), Some(1), "coupons already issued stay");
    }
}

/// How many of these events the coupon consumer recorded as handled, read straight from the table.
fn recorded(app: &TestApp, events: &[&livecart_actors::events::DomainEvent]) -> i64 {
    let ids: Vec<String> = events.iter().map(|e| format!("'{}'", e.id)).collect();
    query_number(
        &app.database_url,
        &format!(
            "SELECT COUNT(*) AS n FROM marketing_processed_events WHERE event_id IN ({})",
            ids.join(", ")
        ),
    )
}

on_both_backends! {
    async fn events_without_an_effect_leave_no_record_and_a_replay_decides_them_again(backend) {
        use livecart::application::issue_coupon::IssueCoupon;
        use livecart::application::ports::marketing::CampaignRecord;
        use livecart_actors::events::{DomainEvent, EventHandler, EventPayload};
        use std::sync::Arc;
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let room = app.live_room(&merchant).await;
        let listing = app.simple_listing(&merchant, room, 10, 5).await;
        let buyer = app.guest().await;
        let handler = IssueCoupon::new(app.services.marketing.clone());
        // An order placed a minute ago and cancelled since, in a room without a campaign.
        let (order, at) = (Uuid::now_v7(), chrono::Utc::now() - chrono::Duration::minutes(1));
        let created = DomainEvent::new(at, EventPayload::OrderCreated {
            order_id: order, room_id: room, listing_id: listing, user_id: buyer.id, quantity: 1, total_cents: 1999,
        });
        let cancelled = DomainEvent::new(at + chrono::Duration::seconds(1), EventPayload::OrderCancelled {
            order_id: order, room_id: room, listing_id: listing, user_id: buyer.id, quantity: 1,
        });
        let batch: Arc<[DomainEvent]> = Arc::from(vec![created.clone(), cancelled.clone()]);
        handler.handle(batch.clone()).await.expect("first delivery");
        assert_eq!(recorded(&app, &[&created, &cancelled]), 0, "nothing to do, nothing written");

        // A campaign started after the order: a replay still earns it nothing.
        let body = json!({"amount_off_cents": 100, "min_spend_cents": 0, "valid_for_s": 3600});
        expect_status(app.post(&format!("/v1/rooms/{room}/coupon-campaign"), Some(&merchant.token), body).await, StatusCode::CREATED).await;
        handler.handle(Arc::from(vec![created.clone()])).await.expect("the creation replayed");
        handler.handle(batch.clone()).await.expect("the batch replayed");
        let coupons = app.services.marketing.coupons_of_user(buyer.id, Window::ALL).await.expect("coupons");
        assert!(coupons.is_empty(), "a campaign started after the order issues nothing for it: {coupons:?}");
        assert_eq!(recorded(&app, &[&created, &cancelled]), 0);

        // A campaign stamped before the order that was not visible at the first delivery (its
        // insert committing in that instant): the replay issues the coupon, and the replayed
        // cancellation, left unrecorded, revokes it: no live coupon for a cancelled order.
        app.services.marketing.upsert_campaign(CampaignRecord {
            room_id: room, amount_off_cents: 100, min_spend_cents: 0, valid_for_s: 3600,
            created_at: at - chrono::Duration::minutes(1),
        }).await.expect("campaign");
        handler.handle(batch.clone()).await.expect("the batch replayed under the campaign");
        handler.handle(batch).await.expect("and once more");
        let coupons = app.services.marketing.coupons_of_user(buyer.id, Window::ALL).await.expect("coupons");
        assert_eq!(coupons.len(), 1, "one coupon for the order: {coupons:?}");
        assert_eq!(coupons[0].order_id, order);
        assert!(coupons[0].revoked_at.is_some(), "the cancelled order's coupon is revoked: {coupons:?}");
        assert_eq!(recorded(&app, &[&created, &cancelled]), 2, "events with an effect are recorded");

        // A cancellation alone, of an order with a coupon, is recorded; of one without, is not.
        let stray = DomainEvent::new(at, EventPayload::OrderCancelled {
            order_id: Uuid::now_v7(), room_id: room, listing_id: listing, user_id: buyer.id, quantity: 1,
        });
        handler.handle(Arc::from(vec![stray.clone()])).await.expect("a stray cancellation");
        assert_eq!(recorded(&app, &[&stray]), 0, "no coupon, nothing to revoke, nothing written");
    }
}
