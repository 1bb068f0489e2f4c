//! Events through Redis Streams (Redis configured): the relay appends to the stream, the coupon
//! issuer consumes it through its group, nothing is lost when a consumer or Redis dies, and a
//! replay changes nothing. Real Redis throughout: each scenario runs its own `redis-server`, and
//! its own stream key, because the metrics it reads are per stream and process-wide.

use crate::helpers::*;
use crate::redis_server::{connect, fresh_stream_key, RedisServer};
use deadpool_redis::redis::streams::{
    StreamInfoGroupsReply, StreamPendingReply, StreamRangeReply, StreamReadOptions, StreamReadReply,
};
use deadpool_redis::redis::{aio::MultiplexedConnection, AsyncTypedCommands};
use livecart::application::issue_coupon::IssueCoupon;
use livecart::application::ports::marketing::CouponRecord;
use livecart::application::ports::Window;
use livecart::settings::Settings;
use livecart::startup::COUPON_GROUP;
use livecart_actors::events::{DomainEvent, EventHandler, EventPayload};
use reqwest::StatusCode;
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;
use uuid::Uuid;

/// Settings for an app that sends its events through `stream` on the Redis at `url`.
fn on_stream(url: &str, stream: &str) -> impl FnOnce(&mut Settings) {
    let (url, stream) = (url.to_owned(), stream.to_owned());
    move |s| {
        s.redis.url = url;
        s.redis.events.stream = stream;
    }
}

/// A Redis of its own, a fresh stream key on it, a connection to read it, and an app whose events
/// go through that stream. The server runs until the caller drops it (keep it bound, `_server`).
async fn streamed_app(backend: Backend) -> (RedisServer, String, MultiplexedConnection, TestApp) {
    let server = RedisServer::start().await;
    let (url, stream) = (server.url(), fresh_stream_key());
    let redis = connect(&url).await;
    let app = spawn_app_with(fresh_database(backend), on_stream(&url, &stream)).await;
    (server, stream, redis, app)
}

/// One stream entry, as a consumer in any language would read it.
struct Entry {
    stream_id: String,
    fields: Vec<(String, String)>,
    event: DomainEvent,
}

async fn entries(conn: &mut MultiplexedConnection, stream: &str) -> Vec<Entry> {
    let range: StreamRangeReply = conn.xrange_all(stream).await.expect("XRANGE");
    range
        .ids
        .into_iter()
        .map(|entry| {
            let field = |name: &str| {
                entry
                    .get::<String>(name)
                    .unwrap_or_else(|| panic!("field {name} in {entry:?}"))
            };
            let event: DomainEvent = serde_json::from_str(&field("event")).expect("the event's JSON");
            assert_eq!(field("id"), event.id.to_string(), "the entry's id is its event's");
            assert_eq!(field("kind"), event.kind());
            let fields = ["id", "kind", "event"].map(|f| (f.to_owned(), field(f))).to_vec();
            Entry {
                stream_id: entry.id.clone(),
                fields,
                event,
            }
        })
        .collect()
}

fn order_created(entry: &Entry) -> Option<Uuid> {
    match entry.event.payload {
        EventPayload::OrderCreated { order_id, .. } => Some(order_id),
        _ => None,
    }
}

/// Entries delivered to the coupon group and not acknowledged.
async fn pending(conn: &mut MultiplexedConnection, stream: &str) -> usize {
    let reply: StreamPendingReply = conn.xpending(stream, COUPON_GROUP).await.expect("XPENDING");
    reply.count()
}

/// The sum of a counter's series for `stream` in `/metrics` (other tests use other streams).
async fn counter(app: &TestApp, name: &str, stream: &str) -> u64 {
    let text = app.get("/metrics", None).await.text().await.expect("metrics text");
    let label = format!("stream=\"{stream}\"");
    text.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")) && line.contains(&label))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// A live room with a listing and a coupon campaign, and `n` buyers.
async fn campaign_room(app: &TestApp, n: usize) -> (Uuid, Uuid, Vec<User>) {
    let merchant = app.merchant().await;
    let room = app.live_room(&merchant).await;
    let listing = app.simple_listing(&merchant, room, 1_000, 1).await;
    let body = json!({"amount_off_cents": 500, "min_spend_cents": 0, "valid_for_s": 86400});
    let res = app
        .post(
            &format!("/v1/rooms/{room}/coupon-campaign"),
            Some(&merchant.token),
            body,
        )
        .await;
    expect_status(res, StatusCode::CREATED).await;
    (room, listing, app.guests(n).await)
}

/// One order per buyer, all at once; every one must be acknowledged.
async fn buy(app: &TestApp, room: Uuid, listing: Uuid, buyers: &[User]) -> Vec<Uuid> {
    let calls = buyers.iter().map(|b| async move {
        id_of(expect_status(app.order(b, room, listing, json!(1), None).await, StatusCode::CREATED).await)
    });
    futures_util::future::join_all(calls).await
}

/// Waits until each buyer holds a coupon, then requires exactly one, for their order.
async fn one_coupon_each(app: &TestApp, buyers: &[User], orders: &[Uuid], within: Duration) -> Vec<CouponRecord> {
    let deadline = tokio::time::Instant::now() + within;
    let mut coupons = Vec::new();
    for (buyer, order) in buyers.iter().zip(orders) {
        let mine = loop {
            let mine = app
                .services
                .marketing
                .coupons_of_user(buyer.id, Window::ALL)
                .await
                .expect("coupons");
            if !mine.is_empty() {
                break mine;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no coupon for order {order} within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(mine.len(), 1, "one coupon per order: {mine:?}");
        assert_eq!(mine[0].order_id, *order);
        coupons.push(mine[0].clone());
    }
    coupons
}

async fn until(what: &str, within: Duration, mut done: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !done().await {
        assert!(tokio::time::Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

on_both_backends! {
    async fn with_redis_every_order_in_a_campaign_room_earns_one_coupon_through_the_stream(backend) {
        const N: usize = 12;
        let (_server, stream, mut redis, app) = streamed_app(backend).await;
        let (room, listing, buyers) = campaign_room(&app, N).await;
        let orders = buy(&app, room, listing, &buyers).await;

        one_coupon_each(&app, &buyers, &orders, Duration::from_secs(15)).await;
        let held = entries(&mut redis, &stream).await;
        let mut created: Vec<Uuid> = held.iter().filter_map(order_created).collect();
        created.sort();
        let mut expected = orders.clone();
        expected.sort();
        assert_eq!(created, expected, "the stream holds each order.created once");
        assert!(held.iter().any(|e| e.event.kind() == "live.started"), "every event goes to the stream");
        until("the group acknowledges what it handled", Duration::from_secs(10), async || pending(&mut redis, &stream).await == 0).await;
        assert!(counter(&app, "livecart_stream_entries_handled_total", &stream).await >= N as u64);
    }

    // The journal hands the relay its events in memory; a room going live or ending appends its
    // event in a transaction of its own, between journal batches. Each must reach the stream
    // once, in commit order.
    async fn events_written_beside_the_journal_reach_the_stream_once_and_in_commit_order(backend) {
        const WAVE: usize = 8;
        let (_server, stream, mut redis, app) = streamed_app(backend).await;
        let (room, listing, buyers) = campaign_room(&app, 3 * WAVE).await;
        let merchant = app.merchant().await;
        let other = app.room(&merchant).await;

        let mut waves = Vec::new();
        waves.push(buy(&app, room, listing, &buyers[..WAVE]).await);
        app.start(&merchant, other).await;
        waves.push(buy(&app, room, listing, &buyers[WAVE..2 * WAVE]).await);
        let res = app.post(&format!("/v1/rooms/{other}/end"), Some(&merchant.token), json!({})).await;
        expect_status(res, StatusCode::OK).await;
        waves.push(buy(&app, room, listing, &buyers[2 * WAVE..]).await);

        let mut held = Vec::new();
        until("every event reaches the stream", Duration::from_secs(15), async || {
            held = entries(&mut redis, &stream).await;
            held.iter().filter_map(order_created).count() >= 3 * WAVE
                && held.iter().any(|e| e.event.kind() == "live.ended")
        })
        .await;
        let mut ids: Vec<Uuid> = held.iter().map(|e| e.event.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), held.len(), "no event twice");
        let at = |wanted: &dyn Fn(&Entry) -> bool| {
            held.iter().position(wanted).unwrap_or_else(|| panic!("an expected event is missing"))
        };
        let other_started = at(&|e| matches!(e.event.payload, EventPayload::LiveStarted { room_id } if room_id == other));
        let other_ended = at(&|e| matches!(e.event.payload, EventPayload::LiveEnded { room_id } if room_id == other));
        let position_of = |order: &Uuid| at(&|e| order_created(e) == Some(*order));
        assert!(waves[0].iter().all(|o| position_of(o) < other_started), "orders acknowledged before the room went live precede it");
        assert!(waves[1].iter().all(|o| (other_started..other_ended).contains(&position_of(o))), "orders between the two changes sit between them");
        assert!(waves[2].iter().all(|o| position_of(o) > other_ended), "orders after the room ended follow it");
    }

    async fn entries_a_dead_consumer_read_but_never_acknowledged_are_claimed_after_the_idle_time_and_handled_once(backend) {
        const N: usize = 8;
        const MIN_IDLE: Duration = Duration::from_millis(1_500);
        let server = RedisServer::start().await;
        let (url, stream) = (server.url(), fresh_stream_key());
        let mut redis = connect(&url).await;
        let database = fresh_database(backend);
        // A node that only publishes, so the entries wait for the consumer this test plays.
        let publisher = spawn_app_with(database, |s| {
            on_stream(&url, &stream)(s);
            s.redis.events.consume = false;
        })
        .await;
        let (room, listing, buyers) = campaign_room(&publisher, N).await;
        let orders = buy(&publisher, room, listing, &buyers).await;
        until("the relay publishes every order", Duration::from_secs(10), async || {
            entries(&mut redis, &stream).await.iter().filter_map(order_created).count() == N
        })
        .await;

        // The dying consumer: reads everything, handles half of the orders, and dies before XACK.
        let _: () = redis.xgroup_create(&stream, COUPON_GROUP, "0").await.expect("XGROUP CREATE");
        let options = StreamReadOptions::default().group(COUPON_GROUP, "dead-node").count(1_000);
        // Before the read: the entries' idle time in Redis starts after this instant.
        let read_at = tokio::time::Instant::now();
        let read: Option<StreamReadReply> = redis.xread_options(&[&stream], &[">"], &options).await.expect("XREADGROUP");
        let taken: Vec<DomainEvent> = read
            .expect("entries")
            .keys
            .into_iter()
            .flat_map(|k| k.ids)
            .map(|e| serde_json::from_str(&e.get::<String>("event").expect("event")).expect("JSON"))
            .collect();
        let handled_before: Vec<DomainEvent> = taken.iter().filter(|e| e.kind() == "order.created").take(N / 2).cloned().collect();
        IssueCoupon::new(publisher.services.marketing.clone())
            .handle(handled_before.into())
            .await
            .expect("the dying consumer's handling");
        let first_coupons: HashMap<Uuid, Uuid> = futures_util::future::join_all(buyers.iter().map(|b| publisher.services.marketing.coupons_of_user(b.id, Window::ALL)))
            .await
            .into_iter()
            .flat_map(|c| c.expect("coupons"))
            .map(|c| (c.order_id, c.id))
            .collect();
        assert_eq!(first_coupons.len(), N / 2);
        assert_eq!(pending(&mut redis, &stream).await, taken.len(), "all it read is pending");
        let database = publisher.stop().await;

        let consumer = spawn_app_with(database, |s| {
            on_stream(&url, &stream)(s);
            s.redis.events.claim_min_idle_ms = MIN_IDLE.as_millis() as u64;
        })
        .await;
        let coupons = one_coupon_each(&consumer, &buyers, &orders, Duration::from_secs(20)).await;
        assert!(read_at.elapsed() >= MIN_IDLE, "claimed only once idle for {MIN_IDLE:?}");
        for coupon in &coupons {
            if let Some(first) = first_coupons.get(&coupon.order_id) {
                assert_eq!(coupon.id, *first, "an order handled before the death is not issued again");
            }
        }
        until("every claimed entry is acknowledged", Duration::from_secs(10), async || pending(&mut redis, &stream).await == 0).await;
        assert_eq!(counter(&consumer, "livecart_stream_entries_claimed_total", &stream).await, taken.len() as u64);
    }

    async fn a_replayed_entry_issues_nothing_new_and_revives_no_revoked_coupon(backend) {
        let (_server, stream, mut redis, app) = streamed_app(backend).await;
        let (room, listing, buyers) = campaign_room(&app, 1).await;
        let order = buy(&app, room, listing, &buyers).await[0];
        one_coupon_each(&app, &buyers, &[order], Duration::from_secs(15)).await;
        let res = app.post(&format!("/v1/orders/{order}/cancel"), Some(&buyers[0].token), json!({})).await;
        expect_status(res, StatusCode::OK).await;
        let revoked = {
            let mut coupons = Vec::new();
            until("the cancellation revokes the coupon", Duration::from_secs(15), async || {
                coupons = app.services.marketing.coupons_of_user(buyers[0].id, Window::ALL).await.expect("coupons");
                coupons.iter().any(|c| c.revoked_at.is_some())
            })
            .await;
            coupons.remove(0)
        };

        // The order.created entry delivered again, twice in a row, then the cancellation again.
        let held = entries(&mut redis, &stream).await;
        let created = held.iter().find(|e| order_created(e) == Some(order)).expect("order.created in the stream");
        let cancelled = held.iter().find(|e| e.event.kind() == "order.cancelled").expect("order.cancelled in the stream");
        let mut last = String::new();
        for entry in [created, created, cancelled] {
            last = redis.xadd(&stream, "*", &entry.fields).await.expect("XADD").expect("an entry id");
        }
        until("the group takes and acknowledges the replays", Duration::from_secs(15), async || {
            let groups: StreamInfoGroupsReply = redis.xinfo_groups(&stream).await.expect("XINFO GROUPS");
            groups.groups.iter().any(|g| g.name == COUPON_GROUP && g.last_delivered_id == last && g.pending == 0)
        })
        .await;
        let after = app.services.marketing.coupons_of_user(buyers[0].id, Window::ALL).await.expect("coupons");
        assert_eq!(after.len(), 1, "{after:?}");
        assert_eq!((after[0].id, after[0].revoked_at), (revoked.id, revoked.revoked_at), "the coupon is untouched");
        assert!(created.stream_id < last);
    }

    async fn orders_go_on_while_redis_is_down_and_every_order_earns_its_coupon_once_it_is_back(backend) {
        const PHASE: usize = 10;
        let mut server = RedisServer::start().await;
        let stream = fresh_stream_key();
        let app = spawn_app_with(fresh_database(backend), on_stream(&server.url(), &stream)).await;
        let (room, listing, buyers) = campaign_room(&app, 3 * PHASE).await;
        let (before, rest) = buyers.split_at(PHASE);
        let (during, after) = rest.split_at(PHASE);

        let mut orders = buy(&app, room, listing, before).await;
        // Killed while the first orders' events may still be on their way.
        server.kill();
        orders.extend(buy(&app, room, listing, during).await);
        until("the relay and the consumer notice that Redis is gone", Duration::from_secs(15), async || {
            counter(&app, "livecart_stream_publish_failures_total", &stream).await > 0
                && counter(&app, "livecart_stream_consumer_failures_total", &stream).await > 0
        })
        .await;

        server.restart().await;
        orders.extend(buy(&app, room, listing, after).await);
        one_coupon_each(&app, &buyers, &orders, Duration::from_secs(30)).await;
        let mut stored: Vec<Uuid> = app.stored_orders(listing).await.iter().map(|o| o.id).collect();
        stored.sort();
        orders.sort();
        assert_eq!(stored, orders, "every acknowledged order is stored");
        let mut redis = connect(&server.url()).await;
        until("nothing is left pending", Duration::from_secs(10), async || pending(&mut redis, &stream).await == 0).await;
        // Snapshots resumed too: the listing's, in the Redis that came back, is at the position
        // the journal reached.
        let position = query_number(&app.database_url, &format!("SELECT journal_position AS n FROM catalog_listings WHERE id = '{listing}'"));
        let key = format!("livecart:snapshot:listing:{listing}");
        until("the listing's snapshot is current in Redis", Duration::from_secs(15), async || {
            let body: Option<String> = deadpool_redis::redis::cmd("GET").arg(&key).query_async(&mut redis).await.expect("GET");
            body.and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok())
                .is_some_and(|snapshot| snapshot["position"].as_i64() == Some(position))
        })
        .await;
    }
}
