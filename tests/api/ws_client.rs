//! A real WebSocket client for the tests (tokio-tungstenite), with typed waits.

use crate::helpers::Api;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Waits longer than any coalescing tick, shorter than a hung test.
const WAIT: Duration = Duration::from_secs(10);

pub struct WsClient {
    pub socket: Socket,
}

/// How an upgrade ended: connected, or refused with an HTTP status.
pub type Upgrade = Result<WsClient, u16>;

impl Api {
    pub fn ws_url(&self, room: Uuid, query: &str) -> String {
        format!(
            "{}/v1/rooms/{room}/ws?{query}",
            self.address.replace("http://", "ws://")
        )
    }

    pub async fn try_ws(&self, room: Uuid, query: &str, origin: Option<&str>) -> Upgrade {
        let mut request = self.ws_url(room, query).into_client_request().expect("a valid request");
        if let Some(origin) = origin {
            request.headers_mut().insert("Origin", origin.parse().expect("header"));
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => Ok(WsClient { socket }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
            Err(other) => panic!("upgrade failed oddly: {other}"),
        }
    }

    /// Connects and returns the client with its welcome frame.
    pub async fn ws(&self, room: Uuid, token: &str) -> (WsClient, Value) {
        self.ws_resume(room, token, None).await
    }

    pub async fn ws_resume(&self, room: Uuid, token: &str, resume: Option<(u64, u64)>) -> (WsClient, Value) {
        let mut query = format!("token={token}");
        if let Some((epoch, offset)) = resume {
            query.push_str(&format!("&epoch={epoch}&offset={offset}"));
        }
        let mut client = self
            .try_ws(room, &query, None)
            .await
            .unwrap_or_else(|s| panic!("upgrade refused: {s}"));
        let welcome = client.next_json().await;
        assert_eq!(welcome["type"], "welcome", "the welcome comes first: {welcome}");
        (client, welcome)
    }

    /// Connects over a socket with a tiny receive buffer, for a viewer that stops reading.
    pub async fn ws_with_small_buffer(&self, room: Uuid, token: &str) -> WsClient {
        let addr = self.address.trim_start_matches("http://").parse().expect("addr");
        let tcp = tokio::net::TcpSocket::new_v4().expect("socket");
        tcp.set_recv_buffer_size(4096).expect("rcvbuf");
        let stream = tcp.connect(addr).await.expect("connect");
        let url = self.ws_url(room, &format!("token={token}"));
        let (socket, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(stream))
            .await
            .expect("upgrade");
        WsClient { socket }
    }
}

impl WsClient {
    pub async fn send_json(&mut self, value: Value) {
        self.socket.send(Message::text(value.to_string())).await.expect("sent");
    }

    pub async fn send_text(&mut self, text: String) {
        self.socket.send(Message::text(text)).await.expect("sent");
    }

    /// The next JSON frame; protocol pings and pongs are skipped.
    pub async fn next_json(&mut self) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let message = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .expect("a frame within the wait")
                .expect("the socket is open")
                .expect("a readable frame");
            match message {
                Message::Text(text) => return serde_json::from_str(&text).expect("JSON"),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected frame {other:?}"),
            }
        }
    }

    /// Reads until a frame satisfies `wanted`, returning it; fails after the wait however many
    /// other frames arrive meanwhile.
    pub async fn until(&mut self, mut wanted: impl FnMut(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT * 2;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.next_json())
                .await
                .expect("the wanted frame in time");
            if wanted(&frame) {
                return frame;
            }
        }
    }

    pub async fn until_type(&mut self, kind: &str) -> Value {
        self.until(|f| f["type"] == kind).await
    }

    /// Reads until the server closes; returns the close code.
    pub async fn close_code(&mut self) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + WAIT * 3;
        loop {
            match tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .expect("closed within the wait")
            {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// No frame of `kind` arrives within `window`.
    pub async fn none_of_type_within(&mut self, kind: &str, window: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + window;
        loop {
            match tokio::time::timeout_at(deadline, self.socket.next()).await {
                Err(_) => return true,
                Ok(Some(Ok(Message::Text(text)))) => {
                    let frame: Value = serde_json::from_str(&text).expect("JSON");
                    if frame["type"] == kind {
                        return false;
                    }
                }
                Ok(Some(Ok(_))) => continue,
                Ok(_) => return true,
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }
}
