//! Many WebSocket clients at once, and a viewer that stops reading.

use crate::helpers::*;
use crate::ws_client::WsClient;
use futures_util::future::join_all;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::HashSet;
use tokio_tungstenite::tungstenite::Message;

/// Resident memory of this process (the server runs in it), in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

on_both_backends! {
    async fn two_hundred_viewers_buying_over_websocket_never_oversell_fifty_units(backend) {
        const STOCK: u64 = 50;
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let room = app.live_room(&merchant).await;
        let listing = app.simple_listing(&merchant, room, STOCK, 1).await;
        let buyers = app.guests(200).await;
        let mut clients: Vec<WsClient> = Vec::new();
        for chunk in buyers.chunks(50) {
            let connected = join_all(chunk.iter().map(|b| app.ws(room, &b.token))).await;
            clients.extend(connected.into_iter().map(|(c, _)| c));
        }

        // Each client reads until its own answer. A `stock: 0` frame can arrive before that answer
        // (a buy handled after the sale's last commit was announced); it is noted here, since
        // stock frames are latest-value-wins and no second one will come to wait for.
        // A buy answered `unavailable` (commits slow enough that units in flight might come back:
        // a heavily loaded machine) is sent again with the same request_id, as protocol.md tells
        // clients to: it places at most one order, and ends in an order or a definite refusal.
        let results: Vec<(Value, bool, WsClient)> = join_all(clients.into_iter().enumerate().map(|(i, mut c)| async move {
            let mut saw_sold_out = false;
            for attempt in 1.. {
                c.send_json(json!({"type": "buy", "request_id": format!("b-{i}"), "listing_id": listing, "quantity": 1})).await;
                let answer = c
                    .until(|f| {
                        saw_sold_out |= f["type"] == "stock" && f["stock_left"] == 0;
                        f["type"] == "order" && f["request_id"] == format!("b-{i}")
                    })
                    .await;
                if answer["error"]["error"] != "unavailable" || attempt == 100 {
                    return (answer, saw_sold_out, c);
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            unreachable!("the loop returns by its hundredth attempt")
        }))
        .await;

        let mut acknowledged = HashSet::new();
        for (answer, _, _) in &results {
            match answer.get("order") {
                Some(order) => assert!(acknowledged.insert(order["id"].as_str().expect("id").to_owned()), "duplicate order"),
                None => assert_eq!(answer["error"]["error"], "sold_out", "{answer}"),
            }
        }
        assert_eq!(acknowledged.len() as u64, STOCK);
        // Every viewer ends up seeing the listing sold out.
        join_all(results.into_iter().map(|(_, saw_sold_out, mut c)| async move {
            if !saw_sold_out {
                c.until(|f| f["type"] == "stock" && f["stock_left"] == 0).await;
            }
        }))
        .await;
        let stored: HashSet<String> = app.stored_orders(listing).await.iter().map(|o| o.id.to_string()).collect();
        assert_eq!(stored, acknowledged, "the database agrees with the order frames");
        assert_eq!(app.stock_left(room, listing).await, 0);
    }

    async fn a_viewer_who_stops_reading_is_closed_while_the_others_get_what_they_must(backend) {
        const FRAMES: usize = 10_000;
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let (talker, fan, sleeper) = (app.guest().await, app.guest().await, app.guest().await);
        let room = app.live_room(&merchant).await;
        let (fan_client, _) = app.ws(room, &fan.token).await;
        let (talk_client, _) = app.ws(room, &talker.token).await;
        let mut slow = app.ws_with_small_buffer(room, &sleeper.token).await;
        let rss_before = rss_kib();

        // The fan and the talker read everything; the sleeper reads nothing until the end.
        let fan_reader = tokio::spawn(read_until_ended(fan_client));
        let (mut talk_tx, talk_rx) = talk_client.socket.split();
        let talk_reader = tokio::spawn(async move { talk_rx.for_each(|_| async {}).await });
        let line = "live commerce ".repeat(34);
        // In ten bursts over ~4 s: longer than the 3 s a stopped reader is given.
        for burst in 0..10 {
            for i in 0..FRAMES / 10 {
                let frame = json!({"type": "chat", "text": format!("{burst}-{i} {line}")}).to_string();
                talk_tx.send(Message::text(frame)).await.expect("sent");
            }
            tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        }
        let grown_mib = rss_kib().saturating_sub(rss_before) / 1024;
        assert!(grown_mib < 128, "server memory grew by {grown_mib} MiB during the flood");

        // A must-deliver frame after the flood reaches the reading viewer.
        let res = app.post(&format!("/v1/rooms/{room}/end"), Some(&merchant.token), json!({})).await;
        expect_status(res, reqwest::StatusCode::OK).await;
        let fan_saw = tokio::time::timeout(std::time::Duration::from_secs(30), fan_reader)
            .await
            .expect("the fan hears the end")
            .expect("reader task");
        assert!(fan_saw > 0, "the fan received chat");

        // Once its socket buffers are full the sleeper makes no progress; the server notices
        // within its stall time plus a heartbeat and closes it, without the sleeper reading.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            // The talker keeps speaking up, so only the sleeper can be the one closed (a quiet
            // client whose pongs sit unflushed would be timed out on a slow machine).
            let _ = talk_tx.send(Message::text(json!({"type": "ping"}).to_string())).await;
            let view = expect_status(app.get(&format!("/v1/rooms/{room}"), None).await, reqwest::StatusCode::OK).await;
            if view["viewer_count"] == 1 {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "the sleeper was never closed: {view}");
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        let code = slow.close_code().await;
        assert_eq!(code, Some(4001), "the sleeper is closed with the resync code");
        talk_reader.abort();
    }
}

/// Reads until the `live_status: ended` frame; returns how many chat frames came first.
async fn read_until_ended(mut client: WsClient) -> usize {
    let mut chats = 0;
    loop {
        let frame = client.next_json().await;
        match frame["type"].as_str() {
            Some("chat") => chats += 1,
            Some("live_status") if frame["status"] == "ended" => return chats,
            _ => {}
        }
    }
}
