//! Abuse over WebSocket: fifty clients throw random and malformed frames at a live room while a
//! well-behaved viewer chats and buys. The frames come from a seeded generator; the seed is
//! printed, and `LIVECART_WS_FUZZ_SEED=<seed>` replays the same frames.

use crate::helpers::*;
use futures_util::future::join_all;
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

const FUZZERS: usize = 50;
/// Frames each fuzzer sends, over as many connections as the server's closes make it open.
const FRAMES_PER_FUZZER: usize = 120;
/// However far the fuzzers got, they stop sending after this.
const FUZZ_FOR: Duration = Duration::from_secs(6);
/// The server's frame limit (docs/protocol.md); the oversized frames go past it.
const MAX_FRAME_BYTES: usize = 64 * 1024;

impl Rng {
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    /// One frame of abuse; `listing` is a real listing, so some buys reach the quantity rules.
    fn frame(&mut self, listing: Uuid) -> Message {
        match self.below(16) {
            // Random bytes in a text frame: mostly not UTF-8, which ends the connection.
            0 => raw(self.bytes(1, 64), OpCode::Data(Data::Text), true),
            1 => Message::text(self.text(1, 80)),
            // Broken JSON.
            2 => {
                let whole = json!({"type": "chat", "text": self.text(8, 1)}).to_string();
                let cut = self.below(whole.len().max(1));
                Message::text(whole.get(..cut).unwrap_or("{").to_owned())
            }
            3 => Message::text(self.pick(&[
                "{",
                "}",
                "[",
                "{\"type\":",
                "{\"type\":\"chat\",",
                "nul",
                "\"",
                "{\"a\":1,}",
            ])),
            // Valid JSON of the wrong shape or types.
            4 => Message::text(self.pick(&["null", "[]", "42", "\"chat\"", "{}", "true", "[{\"type\":\"chat\"}]"])),
            5 => Message::text(
                [
                    json!({"type": "chat", "text": 123}),
                    json!({"type": "chat"}),
                    json!({"type": "chat", "text": ""}),
                    json!({"type": "chat", "text": "   "}),
                    json!({"type": "like", "count": "many"}),
                    json!({"type": "like", "count": -1}),
                    json!({"type": "like", "count": 0}),
                    json!({"type": "buy", "request_id": 7, "listing_id": listing, "quantity": 1}),
                    json!({"type": "buy", "request_id": "r", "listing_id": "nope", "quantity": 1}),
                    json!({"type": "buy", "request_id": "r", "listing_id": listing, "quantity": "1"}),
                    json!({"type": "buy", "request_id": "r", "listing_id": listing}),
                    json!({"type": 1}),
                ][self.below(12)]
                .to_string(),
            ),
            // Unknown types.
            6 => Message::text(
                json!({"type": self.pick(&["hack", "", "CHAT", "welcome", "order", "admin"]), "text": "x"}).to_string(),
            ),
            // Huge, negative and fractional numbers.
            7 => {
                let n = self.pick(&[
                    "1e308",
                    "-1",
                    "0",
                    "1.5",
                    "18446744073709551616",
                    "-9223372036854775809",
                    "4294967296",
                    "99999999999999999999999999999",
                ]);
                let frame = match self.below(2) {
                    0 => format!("{{\"type\":\"like\",\"count\":{n}}}"),
                    _ => format!(
                        "{{\"type\":\"buy\",\"request_id\":\"big\",\"listing_id\":\"{listing}\",\"quantity\":{n}}}"
                    ),
                };
                Message::text(frame)
            }
            // A buy of another listing, or a chat too long to accept.
            8 => Message::text(
                json!({"type": "buy", "request_id": "ghost", "listing_id": Uuid::new_v4(), "quantity": 1}).to_string(),
            ),
            9 => Message::text(json!({"type": "chat", "text": "x".repeat(501 + self.below(4000))}).to_string()),
            // Nesting deeper than any parser should follow.
            10 => {
                let depth = 1 + self.below(5000);
                Message::text(format!("{}{}", "[".repeat(depth), "]".repeat(depth)))
            }
            11 => Message::binary(self.bytes(0, 256)),
            // Over the frame limit: closes with 1009.
            12 => Message::text("x".repeat(MAX_FRAME_BYTES + 1 + self.below(1024))),
            // Control frames: pings, unsolicited pongs, a ping over the 125-byte limit, a close.
            13 => match self.below(4) {
                0 => Message::Ping(self.bytes(0, 126).into()),
                1 => Message::Pong(self.bytes(0, 126).into()),
                2 => raw(self.bytes(126, 200), OpCode::Control(Control::Ping), true),
                _ => Message::Close(None),
            },
            // Protocol violations: reserved opcodes, a continuation with nothing to continue, a
            // message left unfinished, reserved bits set.
            14 => match self.below(4) {
                0 => raw(
                    self.bytes(8, 1),
                    OpCode::Data(Data::Reserved(3 + self.below(5) as u8)),
                    true,
                ),
                1 => raw(self.bytes(8, 1), OpCode::Data(Data::Continue), true),
                2 => raw(b"{\"type\":\"ch".to_vec(), OpCode::Data(Data::Text), false),
                _ => {
                    let header = FrameHeader {
                        rsv1: true,
                        opcode: OpCode::Data(Data::Text),
                        ..FrameHeader::default()
                    };
                    Message::Frame(Frame::from_payload(header, b"{}".to_vec().into()))
                }
            },
            // Now and then something valid, so abuse and use interleave.
            _ => Message::text(json!({"type": self.pick(&["ping", "like"]), "count": 1}).to_string()),
        }
    }
}

/// A frame as given, valid or not: tungstenite sends it without checking.
fn raw(payload: Vec<u8>, opcode: OpCode, is_final: bool) -> Message {
    let header = FrameHeader {
        is_final,
        opcode,
        ..FrameHeader::default()
    };
    Message::Frame(Frame::from_payload(header, payload.into()))
}

/// Sends `FRAMES_PER_FUZZER` frames of abuse, reconnecting whenever the server closes the
/// connection (as it must for oversized frames and protocol violations); reads everything the
/// server sends meanwhile. Returns how many connections it took.
async fn fuzz(app: &TestApp, room: Uuid, token: &str, listing: Uuid, mut rng: Rng, until: Instant) -> usize {
    let mut sent = 0;
    let mut connections = 0;
    while sent < FRAMES_PER_FUZZER && Instant::now() < until {
        // Every connection, the first or after a close, gets its welcome: the room still answers.
        let (client, _) = app.ws(room, token).await;
        connections += 1;
        let (mut sink, mut stream) = client.socket.split();
        let reader = async move { while let Some(Ok(_)) = stream.next().await {} };
        let writer = async {
            while sent < FRAMES_PER_FUZZER && Instant::now() < until {
                if sink.send(rng.frame(listing)).await.is_err() {
                    break; // the server closed this connection
                }
                sent += 1;
            }
            let _ = sink.close().await;
        };
        let ended = tokio::time::timeout(Duration::from_secs(20), async { tokio::join!(reader, writer) }).await;
        assert!(
            ended.is_ok(),
            "a fuzzed connection neither closed nor finished within 20 s"
        );
    }
    connections
}

/// One chat and one buy at a time, each answered, until the fuzzers are done.
async fn behave(app: &TestApp, room: Uuid, token: &str, listing: Uuid, fuzzers_done: &AtomicBool) -> Vec<String> {
    let (mut client, _) = app.ws(room, token).await;
    let mut orders = Vec::new();
    let mut round = 0;
    while !fuzzers_done.load(Ordering::Acquire) || round == 0 {
        let (text, request) = (format!("still here {round}"), format!("good-{round}"));
        client.send_json(json!({"type": "chat", "text": text})).await;
        client
            .send_json(json!({"type": "buy", "request_id": request, "listing_id": listing, "quantity": 1}))
            .await;
        let (mut chatted, mut answer) = (false, None);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !chatted || answer.is_none() {
            let frame = tokio::time::timeout_at(deadline, client.next_json())
                .await
                .unwrap_or_else(|_| panic!("round {round}: chat echoed {chatted}, order answered {answer:?}"));
            match frame["type"].as_str() {
                Some("chat") if frame["text"] == text => chatted = true,
                Some("order") if frame["request_id"] == request => answer = Some(frame),
                Some("error") => panic!("the well-behaved viewer got an error: {frame}"),
                _ => {}
            }
        }
        let answer = answer.unwrap_or_default();
        let order = answer
            .get("order")
            .unwrap_or_else(|| panic!("round {round}: the buy was refused: {answer}"));
        orders.push(order["id"].as_str().expect("an order id").to_owned());
        round += 1;
    }
    client.send_json(json!({"type": "ping"})).await;
    client.until_type("pong").await;
    orders
}

on_both_backends! {
    async fn fifty_clients_sending_garbage_leave_the_room_serving_a_well_behaved_viewer(backend) {
        const STOCK: u64 = 10_000;
        let seed = seed_from_env("LIVECART_WS_FUZZ_SEED");
        println!("ws fuzz seed {seed}: replay with LIVECART_WS_FUZZ_SEED={seed}");
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let room = app.live_room(&merchant).await;
        let listing = app.simple_listing(&merchant, room, STOCK, 10_000).await;
        let fuzzers = app.guests(FUZZERS).await;
        let good = app.guest().await;

        let until = Instant::now() + FUZZ_FOR;
        let done = AtomicBool::new(false);
        let fuzzing = async {
            let connections = join_all(fuzzers.iter().enumerate().map(|(i, user)| {
                let rng = Rng::new(seed ^ (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                fuzz(&app, room, &user.token, listing, rng, until)
            }))
            .await;
            done.store(true, Ordering::Release);
            connections.iter().sum::<usize>()
        };
        let (connections, acknowledged) = tokio::join!(fuzzing, behave(&app, room, &good.token, listing, &done));
        println!("{connections} fuzzed connections; the well-behaved viewer bought {} times", acknowledged.len());

        // The server still serves HTTP, and the room is still live.
        expect_status(app.get("/healthz", None).await, StatusCode::OK).await;
        let view = expect_status(app.get(&format!("/v1/rooms/{room}"), None).await, StatusCode::OK).await;
        assert_eq!(view["status"], "live");
        // Every order the viewer was told about exists, and the stock adds up.
        let stored = app.stored_orders(listing).await;
        let stored_ids: HashSet<String> = stored.iter().map(|o| o.id.to_string()).collect();
        for id in &acknowledged {
            assert!(stored_ids.contains(id), "acknowledged order {id} is not stored");
        }
        let sold: u64 = stored.iter().map(|o| u64::from(o.quantity)).sum();
        assert_eq!(app.stock_left(room, listing).await + sold, STOCK, "sold + left == stock");
        // A newcomer gets a welcome, and its chat goes round.
        let newcomer = app.guest().await;
        let (mut client, welcome) = app.ws(room, &newcomer.token).await;
        assert_eq!(welcome["room"]["status"], "live");
        client.send_json(json!({"type": "chat", "text": "what happened here?"})).await;
        let chat: Value = client.until(|f| f["type"] == "chat" && f["text"] == "what happened here?").await;
        assert_eq!(chat["user_id"], json!(newcomer.id));
    }
}
