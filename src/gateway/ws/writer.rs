//! The one writer of a connection: drains the session's outbox straight into the socket.
//!
//! Each time the connection polls it, it takes every frame waiting in the outbox and encodes
//! them into one chunk, so a burst is one write to the socket. The outbox is polled again only
//! once that chunk is all written, so a client that stops reading stops the draining, and the
//! outbox's stall rule closes it; nothing else ever waits on the client. There is no task,
//! channel or per-frame message between the outbox and the socket: an idle connection holds this
//! struct and nothing more. When it is dropped (client gone, or the close frame sent) the
//! session is told to stop and the IP's connection slot frees.

use crate::gateway::limits::WebSocketSlot;
use actix::Addr;
use actix_http::ws::{CloseCode as WsCloseCode, CloseReason, OpCode, Parser};
use actix_web::web::{Bytes, BytesMut};
use livecart_actors::session::actor::Disconnect;
use livecart_actors::session::{CloseCode, Outgoing, SessionActor, SharedOutbox};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use tokio::io::AsyncWrite;

/// RFC 6455: a control frame's payload is at most 125 bytes.
const MAX_CONTROL_PAYLOAD: usize = 125;

pub struct Writer {
    outbox: Arc<SharedOutbox>,
    session: Addr<SessionActor>,
    /// Held for as long as the connection lives: the per-IP count of open rooms.
    _slot: WebSocketSlot,
    /// Encoded frames the socket has not taken yet; empty (no allocation) when all is written.
    unwritten: Bytes,
    /// Set once the close frame is encoded: when it is written the connection ends.
    closed: bool,
}

impl Writer {
    pub fn new(outbox: Arc<SharedOutbox>, session: Addr<SessionActor>, slot: WebSocketSlot) -> Self {
        metrics::gauge!("livecart_ws_open").increment(1.0);
        Self {
            outbox,
            session,
            _slot: slot,
            unwritten: Bytes::new(),
            closed: false,
        }
    }

    /// The session this connection feeds.
    pub fn session(&self) -> &Addr<SessionActor> {
        &self.session
    }

    /// Writes what the outbox holds until the socket is full or the outbox empty. `Ready` when
    /// the connection is over: the close frame written, the outbox gone, or the socket broken.
    pub fn poll_write<T: AsyncWrite + Unpin>(&mut self, io: &mut T, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            while !self.unwritten.is_empty() {
                match ready!(Pin::new(&mut *io).poll_write(cx, &self.unwritten)) {
                    Ok(0) | Err(_) => return Poll::Ready(()),
                    Ok(written) => {
                        let _ = self.unwritten.split_to(written);
                    }
                }
            }
            // Let the allocation go as soon as it is all written.
            self.unwritten = Bytes::new();
            if self.closed {
                return Poll::Ready(());
            }
            let mut chunk = BytesMut::new();
            let mut closed = false;
            match ready!(self.outbox.poll_batch(cx, |item| closed |= encode(item, &mut chunk))) {
                Some(_) => {
                    self.unwritten = chunk.freeze();
                    self.closed = closed;
                }
                None => return Poll::Ready(()),
            }
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
