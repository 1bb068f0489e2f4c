//! Rate limits and connection caps, with `limits.enabled = true` (the test settings turn them off).

use crate::helpers::*;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

/// The most a token bucket lets through in `elapsed`: the burst and what refilled meanwhile.
fn allowed_within(burst: usize, per_second: usize, elapsed: std::time::Duration) -> usize {
    burst + per_second * (elapsed.as_secs() as usize + 1)
}

/// The next text frame as JSON (`null` for a control frame); fails at the deadline or if the
/// connection ends.
async fn next_frame(
    stream: &mut (impl futures_util::Stream<
        Item = Result<tokio_tungstenite::tungstenite::Message, tokio_tungstenite::tungstenite::Error>,
    > + Unpin),
    deadline: tokio::time::Instant,
) -> serde_json::Value {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    match tokio::time::timeout_at(deadline, stream.next())
        .await
        .expect("a frame in time")
    {
        Some(Ok(Message::Text(text))) => serde_json::from_str(&text).expect("JSON"),
        Some(Ok(_)) => serde_json::Value::Null,
        other => panic!("the connection ended: {other:?}"),
    }
}

async fn limited_app(backend: Backend) -> TestApp {
    spawn_app_with(fresh_database(backend), |s| {
        s.limits.enabled = true;
        s.limits.auth_per_second = 1;
        s.limits.auth_burst = 5;
        s.limits.orders_per_second = 1;
        s.limits.orders_burst = 3;
        s.limits.websockets_per_ip = 2;
    })
    .await
}

on_both_backends! {
    async fn auth_calls_beyond_the_burst_get_429_with_retry_after(backend) {
        let app = limited_app(backend).await;
        let started = std::time::Instant::now();
        let answers = join_all((0..12).map(|_| app.post("/v1/auth/guest", None, json!({"nickname": "n"})))).await;
        let allowed = allowed_within(5, 1, started.elapsed());
        let mut limited = 0;
        for res in answers {
            match res.status() {
                StatusCode::CREATED => {}
                StatusCode::TOO_MANY_REQUESTS => {
                    limited += 1;
                    let retry: u64 = res.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
                    assert!(retry >= 1);
                    expect_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
                }
                other => panic!("unexpected {other}"),
            }
        }
        assert!(12 - limited <= allowed, "only the burst and the refill pass: {limited} limited");
        assert!(limited > 0);
    }

    async fn orders_beyond_a_buyers_rate_are_refused_and_take_nothing(backend) {
        let app = limited_app(backend).await;
        let merchant = app.merchant().await;
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let buyer = app.guest().await;
        let room = app.live_room(&merchant).await;
        let listing = app.simple_listing(&merchant, room, 100, 100).await;
        let started = std::time::Instant::now();
        let answers = join_all((0..8).map(|_| app.order(&buyer, room, listing, json!(1), None))).await;
        let allowed = allowed_within(3, 1, started.elapsed());
        let created = answers.iter().filter(|r| r.status() == StatusCode::CREATED).count();
        let limited = answers.iter().filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS).count();
        assert_eq!(created + limited, 8);
        assert!(created <= allowed && limited > 0, "{created} created, {allowed} allowed");
        assert_eq!(app.stock_left(room, listing).await, 100 - created as u64, "a refused order takes nothing");
    }

    async fn websockets_per_ip_are_capped_and_chat_is_rate_limited(backend) {
        let app = limited_app(backend).await;
        let merchant = app.merchant().await;
        let viewer = app.guest().await;
        let room = app.live_room(&merchant).await;
        let (mut first, _) = app.ws(room, &viewer.token).await;
        let (second, _) = app.ws(room, &viewer.token).await;
        let query = format!("token={}", viewer.token);
        assert_eq!(app.try_ws(room, &query, None).await.err(), Some(429));
        second.close().await;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while app.try_ws(room, &query, None).await.is_err() {
            assert!(tokio::time::Instant::now() < deadline, "the slot is never given back");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }

        for i in 0..10 {
            first.send_json(json!({"type": "chat", "text": format!("hello {i}")})).await;
        }
        assert_eq!(first.until_type("error").await["error"], "rate_limited");
    }
}

on_both_backends! {
    async fn a_flooding_connection_is_rate_limited_and_the_room_still_serves_everyone_else(backend) {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        const FRAMES: usize = 4000;
        let app = spawn_app_with(fresh_database(backend), |s| s.limits.enabled = true).await;
        let merchant = app.merchant().await;
        let (flooder, fan) = (app.guest().await, app.guest().await);
        let room = app.live_room(&merchant).await;
        let (flood, _) = app.ws(room, &flooder.token).await;
        let (mut f, _) = app.ws(room, &fan.token).await;

        let started = std::time::Instant::now();
        let (mut sink, mut stream) = flood.socket.split();
        let sender = tokio::spawn(async move {
            for i in 0..FRAMES {
                let frame = if i % 2 == 0 {
                    json!({"type": "like", "count": 1})
                } else {
                    json!({"type": "chat", "text": format!("flood {i}")})
                };
                sink.send(Message::text(frame.to_string())).await.expect("the flooder stays connected");
            }
            sink
        });
        f.send_json(json!({"type": "chat", "text": "still heard"})).await;
        f.send_json(json!({"type": "like", "count": 7})).await;
        let mine = f.until(|fr| (fr["type"] == "chat" && fr["text"] == "still heard") || fr["type"] == "error").await;
        assert_eq!(mine["type"], "chat", "the fan's chat goes through: {mine}");
        let mut sink = sender.await.expect("the flood was sent");

        // The flooder is told, with the contract's code, and stays connected.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while next_frame(&mut stream, deadline).await["error"] != "rate_limited" {}
        sink.send(Message::text(json!({"type": "ping"}).to_string())).await.expect("still connected");
        while next_frame(&mut stream, deadline).await["type"] != "pong" {}

        // Only the flooder's allowance of likes counted; the fan's did.
        tokio::time::sleep(std::time::Duration::from_millis(800)).await;
        let view = expect_status(app.get(&format!("/v1/rooms/{room}"), None).await, StatusCode::OK).await;
        let likes = view["like_count"].as_u64().expect("like_count") as usize;
        let allowed = allowed_within(40, 20, started.elapsed());
        assert!(likes >= 7, "the fan's likes count: {likes}");
        assert!(likes - 7 <= allowed, "{likes} likes, but the flooder may send only {allowed} frames");
        assert!(f.none_of_type_within("error", std::time::Duration::from_millis(300)).await, "the fan is never refused");
    }
}
