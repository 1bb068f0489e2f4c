//! The one writer of a connection: the upgrade response's body, which drains the session's
//! outbox straight into the connection's write buffer.
//!
//! Each time the connection polls it, it takes every frame waiting in the outbox and encodes
//! them into one chunk, so a burst is one write to the socket. It is polled only while the
//! connection's write buffer has room, so a client that stops reading stops the draining, and
//! the outbox's stall rule closes it; nothing else ever waits on the client. There is no task,
//! channel or per-frame message between the outbox and the socket: an idle connection holds this
//! struct and nothing more. When it is dropped (client gone, or the close frame sent) the
//! session is told to stop and the IP's connection slot frees.

use crate::gateway::limits::WebSocketSlot;
use actix::Addr;
use actix_http::ws::{CloseCode as WsCloseCode, CloseReason, OpCode, Parser};
use actix_web::body::{BodySize, MessageBody};
use actix_web::web::{Bytes, BytesMut};
use livecart_actors::session::actor::Disconnect;
use livecart_actors::session::{CloseCode, Outgoing, SessionActor, SharedOutbox};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// RFC 6455: a control frame's payload is at most 125 bytes.
const MAX_CONTROL_PAYLOAD: usize = 125;

pub struct Writer {
    outbox: Arc<SharedOutbox>,
    session: Addr<SessionActor>,
    /// Held for as long as the connection lives: the per-IP count of open rooms.
    _slot: WebSocketSlot,
    /// Set once the close frame is written: the body (and so the connection) then ends.
    closed: bool,
}

impl Writer {
    pub fn new(outbox: Arc<SharedOutbox>, session: Addr<SessionActor>, slot: WebSocketSlot) -> Self {
        metrics::gauge!("livecart_ws_open").increment(1.0);
        Self {
            outbox,
            session,
            _slot: slot,
            closed: false,
        }
    }
}

impl MessageBody for Writer {
    type Error = Infallible;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Infallible>>> {
        if self.closed {
            return Poll::Ready(None);
        }
        let mut chunk = BytesMut::new();
        let mut closed = false;
        let drained = self.outbox.poll_batch(cx, |item| closed |= encode(item, &mut chunk));
        self.closed = closed;
        match drained {
            Poll::Ready(Some(_)) => Poll::Ready(Some(Ok(chunk.freeze()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.session.do_send(Disconnect);
        metrics::gauge!("livecart_ws_open").decrement(1.0);
    }
}

/// Appends one frame to `chunk`; `true` for the close frame, after which nothing more is sent.
fn encode(item: Outgoing, chunk: &mut BytesMut) -> bool {
    match item {
        Outgoing::Text(text) => Parser::write_message(chunk, text.as_bytes(), OpCode::Text, true, false),
        Outgoing::Ping => Parser::write_message(chunk, b"", OpCode::Ping, true, false),
        Outgoing::Pong(payload) => {
            let payload = &payload[..payload.len().min(MAX_CONTROL_PAYLOAD)];
            Parser::write_message(chunk, payload, OpCode::Pong, true, false);
        }
        Outgoing::Close { code, reason } => {
            metrics::counter!("livecart_ws_closed_total", "code" => code.code().to_string()).increment(1);
            let reason = CloseReason {
                code: ws_code(code),
                description: Some(reason),
            };
            Parser::write_close(chunk, Some(reason), false);
            return true;
        }
    }
    false
}

fn ws_code(code: CloseCode) -> WsCloseCode {
    match code {
        CloseCode::Normal => WsCloseCode::Normal,
        CloseCode::GoingAway => WsCloseCode::Away,
        CloseCode::TooBig => WsCloseCode::Size,
        other => WsCloseCode::Other(other.code()),
    }
}
