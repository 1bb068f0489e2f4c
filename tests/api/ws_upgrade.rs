//! The upgrade path on the wire, written byte by byte: what the server answers an upgrade
//! request it refuses or does not serve, and how it reads frames that arrive with the request
//! or in pieces. The transport does not depend on the database, so these run on SQLite only.

use crate::helpers::*;
use crate::ws_client::WsClient;
use actix_http::ws::{OpCode, Parser};
use actix_web::web::BytesMut;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// An upgrade request for `path` as a browser writes it (RFC 6455's sample key).
fn upgrade_request(path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
}

/// A client's text frame: masked, as RFC 6455 requires of clients.
fn text_frame(value: Value) -> Vec<u8> {
    let mut frame = BytesMut::new();
    Parser::write_message(&mut frame, value.to_string(), OpCode::Text, true, true);
    frame.to_vec()
}

async fn connect(app: &TestApp) -> TcpStream {
    let stream = TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    stream
}

/// Reads up to the end of the response head; returns the head and what came after it.
async fn read_head(stream: &mut TcpStream) -> (String, Vec<u8>) {
    let mut read = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = read.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = read.split_off(end + 4);
            return (String::from_utf8(read).expect("an ASCII head"), rest);
        }
        let n = stream.read(&mut chunk).await.expect("readable");
        assert!(
            n > 0,
            "the connection ended inside the head: {}",
            String::from_utf8_lossy(&read)
        );
        read.extend_from_slice(&chunk[..n]);
    }
}

/// A live room's WebSocket path, with a fresh guest's token.
async fn room_ws_path(app: &TestApp) -> String {
    let merchant = app.merchant().await;
    let viewer = app.guest().await;
    let room = app.live_room(&merchant).await;
    format!("/v1/rooms/{room}/ws?token={}", viewer.token)
}

/// Writes `bytes` on a new connection and reads the answer's head: the socket, the head, and
/// what was read past it.
async fn ask(app: &TestApp, bytes: &[u8]) -> (TcpStream, String, Vec<u8>) {
    let mut stream = connect(app).await;
    stream.write_all(bytes).await.expect("sent");
    let (head, rest) = read_head(&mut stream).await;
    (stream, head, rest)
}

/// The client side of an upgraded socket, `rest` being what was read past the 101's head.
async fn upgraded(stream: TcpStream, rest: Vec<u8>) -> WsClient {
    let socket = WebSocketStream::from_partially_read(MaybeTlsStream::Plain(stream), rest, Role::Client, None).await;
    WsClient { socket }
}

#[actix_web::test]
async fn a_refused_upgrade_gets_the_contracts_error_and_the_connection_closes() {
    let app = spawn_app(Backend::Sqlite).await;
    let merchant = app.merchant().await;
    let room = app.live_room(&merchant).await;
    let mut stream = connect(&app).await;
    let request = upgrade_request(&format!("/v1/rooms/{room}/ws?token=not-a-jwt"));
    stream.write_all(request.as_bytes()).await.expect("sent");

    let mut answer = String::new();
    // To the end: the server closes the connection after the refusal.
    stream.read_to_string(&mut answer).await.expect("read to the end");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    let head = head.to_ascii_lowercase();
    assert!(head.contains("content-type: application/json"), "{head}");
    assert!(head.contains(&format!("content-length: {}", body.len())), "{head}");
    assert!(!head.contains("upgrade"), "a refusal does not switch protocols: {head}");
    let body: Value = serde_json::from_str(body).expect("a JSON body");
    assert_eq!(body["error"], "unauthorized");
    assert!(body["message"].is_string(), "{body}");
}

#[actix_web::test]
async fn an_upgrade_request_for_another_path_is_answered_as_any_request_for_it() {
    let app = spawn_app(Backend::Sqlite).await;
    for path in ["/v1/no-such-thing", "/healthz"] {
        let plain = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .expect("sent");
        let (status, plain_body) = (plain.status().as_u16(), plain.text().await.expect("a body"));

        let mut stream = connect(&app).await;
        stream.write_all(upgrade_request(path).as_bytes()).await.expect("sent");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("read to the end");
        let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
        assert!(head.starts_with(&format!("HTTP/1.1 {status}")), "{path}: {head}");
        assert_eq!(body, plain_body, "{path}");
    }
}

#[actix_web::test]
async fn frames_sent_with_the_upgrade_request_are_read() {
    let app = spawn_app(Backend::Sqlite).await;
    // The request and two frames in one write, so they reach the server in one read.
    let mut bytes = upgrade_request(&room_ws_path(&app).await).into_bytes();
    bytes.extend(text_frame(json!({"type": "chat", "text": "early"})));
    bytes.extend(text_frame(json!({"type": "ping"})));
    let (stream, head, rest) = ask(&app, &bytes).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let mut client = upgraded(stream, rest).await;
    assert_eq!(client.next_json().await["type"], "welcome");
    // The pong is the session's own answer, the chat goes round the room: either may come first.
    let (mut chat, mut pong) = (false, false);
    while !(chat && pong) {
        let frame = client.until(|f| f["type"] == "chat" || f["type"] == "pong").await;
        chat |= frame["type"] == "chat" && frame["text"] == "early";
        pong |= frame["type"] == "pong";
    }
}

#[actix_web::test]
async fn a_frame_written_in_pieces_is_read_whole() {
    let app = spawn_app(Backend::Sqlite).await;
    let (stream, head, rest) = ask(&app, upgrade_request(&room_ws_path(&app).await).as_bytes()).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let mut client = upgraded(stream, rest).await;
    assert_eq!(client.next_json().await["type"], "welcome");

    // A long chat frame in three writes: inside the header, inside the mask, inside the text.
    // Whether the server reads it in three is up to the network; the reader's own tests split
    // a frame at every byte.
    let text = "x".repeat(300);
    let frame = text_frame(json!({"type": "chat", "text": text}));
    let socket = client.socket.get_mut();
    let MaybeTlsStream::Plain(tcp) = socket else {
        panic!("a plain socket")
    };
    for piece in [&frame[..1], &frame[1..6], &frame[6..]] {
        tcp.write_all(piece).await.expect("sent");
        tcp.flush().await.expect("flushed");
    }
    assert_eq!(client.until_type("chat").await["text"], text.as_str());
}

/// The server's frames in `bytes` (unmasked, as servers send them): opcode and payload.
fn server_frames(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while bytes.len() >= 2 {
        let (opcode, short) = (bytes[0] & 0x0f, usize::from(bytes[1] & 0x7f));
        let (len, start) = match short {
            126 => (usize::from(u16::from_be_bytes([bytes[2], bytes[3]])), 4),
            127 => (
                usize::try_from(u64::from_be_bytes(bytes[2..10].try_into().expect("8 bytes"))).expect("a length"),
                10,
            ),
            len => (len, 2),
        };
        assert!(bytes.len() >= start + len, "a whole frame");
        frames.push((opcode, bytes[start..start + len].to_vec()));
        bytes = &bytes[start + len..];
    }
    frames
}

#[actix_web::test]
async fn a_frame_far_over_the_limit_is_closed_with_1009_while_the_client_is_still_sending_it() {
    let app = spawn_app(Backend::Sqlite).await;
    let (stream, head, mut read) = ask(&app, upgrade_request(&room_ws_path(&app).await).as_bytes()).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");

    // 4 MiB announced and sent: the server refuses it once 64 KiB are in, without holding the
    // rest, and the client reads why it was closed while it is still sending.
    let text = "x".repeat(4 * 1024 * 1024);
    let frame = text_frame(json!({"type": "chat", "text": text}));
    let (mut from_server, mut to_server) = stream.into_split();
    let sending = tokio::spawn(async move {
        // The server may stop reading once it has closed; how much of it gets through is moot.
        let _ = to_server.write_all(&frame).await;
        to_server
    });
    from_server
        .read_to_end(&mut read)
        .await
        .expect("read to the server's close, without a reset");
    let frames = server_frames(&read);
    let close = frames.iter().find(|(opcode, _)| *opcode == 0x8).expect("a close frame");
    assert_eq!(u16::from_be_bytes([close.1[0], close.1[1]]), 1009, "{frames:?}");
    drop(sending.await);
}

#[actix_web::test]
async fn a_handshake_the_http_layer_does_not_take_as_an_upgrade_is_refused_with_400() {
    let app = spawn_app(Backend::Sqlite).await;
    // The handshake's checks accept any `Upgrade` naming websocket; the HTTP/1 layer hands over
    // the socket only for exactly `websocket`, so this one must not get a 101 it cannot honour.
    let request = upgrade_request(&room_ws_path(&app).await).replace("Upgrade: websocket", "Upgrade: h2c, websocket");
    let (mut stream, head, rest) = ask(&app, request.as_bytes()).await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    let length: usize = head
        .lines()
        .find_map(|line| {
            line.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_owned)
        })
        .expect("a content length")
        .parse()
        .expect("a number");
    let mut body = rest;
    while body.len() < length {
        let mut chunk = [0u8; 1024];
        let n = stream.read(&mut chunk).await.expect("readable");
        assert!(n > 0, "the body is cut short");
        body.extend_from_slice(&chunk[..n]);
    }
    let body: Value = serde_json::from_slice(&body).expect("a JSON body");
    assert_eq!(body["error"], "bad_request", "{body}");
}
