//! The WebSocket's framing with real clients: a burst queued at once is written whole and in
//! order, and a message sent in continuation frames is read as one, up to the size limit.

use crate::helpers::*;
use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};
use tokio_tungstenite::tungstenite::Message;

/// Chat frames in the burst: fewer than the 256 chat frames a viewer's queue holds, so none may
/// be dropped, and enough that the writer finds many waiting at one wake-up.
const BURST: usize = 200;

on_both_backends! {
    async fn a_burst_of_frames_reaches_every_viewer_complete_and_in_order(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let (talker, listener) = (app.guest().await, app.guest().await);
        let room = app.live_room(&merchant).await;
        let (mut t, _) = app.ws(room, &talker.token).await;
        let (mut l, _) = app.ws(room, &listener.token).await;

        // Queued without waiting for any answer, then flushed once: the server reads them as
        // fast as it can and broadcasts them as fast as it can.
        for i in 0..BURST {
            let frame = json!({"type": "chat", "text": format!("burst {i}")}).to_string();
            t.socket.feed(Message::text(frame)).await.expect("queued");
        }
        t.socket.flush().await.expect("sent");

        let mut last_offset = None;
        for i in 0..BURST {
            let chat = l.until_type("chat").await;
            assert_eq!(chat["text"], format!("burst {i}"), "chat {i} arrives, in order: {chat}");
            let offset = chat["offset"].as_u64().expect("an offset");
            if let Some(last) = last_offset {
                assert_eq!(offset, last + 1, "no chat is missing between {last} and {offset}");
            }
            last_offset = Some(offset);
        }
        // The talker hears its own burst, whole, too.
        for i in 0..BURST {
            assert_eq!(t.until_type("chat").await["text"], format!("burst {i}"));
        }
    }

    async fn a_message_in_continuation_frames_is_read_whole_and_one_over_64_kib_closes_with_1009(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let (viewer, other) = (app.guest().await, app.guest().await);
        let room = app.live_room(&merchant).await;
        let (mut c, _) = app.ws(room, &viewer.token).await;

        let text = json!({"type": "chat", "text": "in three parts"}).to_string();
        let (a, rest) = text.split_at(5);
        let (b, z) = rest.split_at(9);
        send_in_parts(&mut c, &[a, b, z]).await;
        assert_eq!(c.until_type("chat").await["text"], "in three parts");
        // A ping between the parts of a message is answered, and the message still arrives.
        let ping = json!({"type": "ping"}).to_string();
        let (p, q) = ping.split_at(3);
        c.socket.send(fragment(p, OpCode::Data(Data::Text), false)).await.expect("sent");
        c.socket.send(Message::Ping(b"between".to_vec().into())).await.expect("sent");
        c.socket.send(fragment(q, OpCode::Data(Data::Continue), true)).await.expect("sent");
        c.until_type("pong").await;

        // Each part under the frame limit, together over it.
        let part = "x".repeat(40 * 1024);
        send_in_parts(&mut c, &[&part, &part]).await;
        assert_eq!(c.close_code().await, Some(1009), "a 80 KiB message is closed as too big");

        let (mut o, _) = app.ws(room, &other.token).await;
        o.send_json(json!({"type": "ping"})).await;
        o.until_type("pong").await;
    }
}

/// Sends `parts` as one text message: a first frame, continuations, a final one.
async fn send_in_parts(client: &mut crate::ws_client::WsClient, parts: &[&str]) {
    for (i, part) in parts.iter().enumerate() {
        let opcode = if i == 0 { Data::Text } else { Data::Continue };
        let frame = fragment(part, OpCode::Data(opcode), i + 1 == parts.len());
        client.socket.send(frame).await.expect("sent");
    }
}

fn fragment(payload: &str, opcode: OpCode, is_final: bool) -> Message {
    let header = FrameHeader {
        is_final,
        opcode,
        ..FrameHeader::default()
    };
    Message::Frame(Frame::from_payload(header, payload.as_bytes().to_vec().into()))
}
