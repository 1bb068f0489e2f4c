//! Client frames off the wire, parsed into what the SessionActor understands.
//!
//! The request's body stream is decoded with actix-http's WebSocket codec (masking, opcodes,
//! control-frame rules, the frame size limit) and continuation frames are gathered into one
//! message of at most [`MAX_FRAME_BYTES`]. The read buffer is released whenever it has been
//! emptied, so an idle connection keeps no buffer here.

use super::MAX_FRAME_BYTES;
use actix_codec::Decoder;
use actix_http::ws::{Codec, Frame, Item, ProtocolError};
use actix_web::dev::Payload;
use actix_web::web::{Bytes, BytesMut};
use futures_util::Stream;
use livecart_actors::session::{ClientFrame, Inbound};
use std::pin::Pin;
use std::task::{Context, Poll};

pub struct Frames {
    payload: Payload,
    codec: Codec,
    /// Bytes read but not yet a whole frame.
    buf: BytesMut,
    /// A message arriving in continuation frames: whether it is text, and its bytes so far.
    continued: Option<(bool, BytesMut)>,
    /// The connection is over (closed, broken or refused): nothing more is read.
    done: bool,
}

impl Frames {
    pub fn new(payload: Payload) -> Self {
        Self {
            payload,
            codec: Codec::new().max_size(MAX_FRAME_BYTES),
            buf: BytesMut::new(),
            continued: None,
            done: false,
        }
    }

    /// What a decoded frame means to the session; `None` for a continuation still incomplete.
    fn on_frame(&mut self, frame: Frame) -> Option<Inbound> {
        match frame {
            Frame::Text(bytes) => Some(self.message(true, bytes)),
            Frame::Binary(bytes) => Some(self.message(false, bytes)),
            Frame::Ping(payload) => Some(Inbound::Ping(payload.to_vec())),
            Frame::Pong(_) => Some(Inbound::Heard),
            Frame::Close(_) => Some(self.end(Inbound::Closed)),
            Frame::Continuation(item) => {
                // The codec refuses continuations out of order, so one always follows a first.
                let (bytes, last) = match item {
                    Item::FirstText(bytes) => {
                        self.continued = Some((true, BytesMut::new()));
                        (bytes, false)
                    }
                    Item::FirstBinary(bytes) => {
                        self.continued = Some((false, BytesMut::new()));
                        (bytes, false)
                    }
                    Item::Continue(bytes) => (bytes, false),
                    Item::Last(bytes) => (bytes, true),
                };
                let Some((_, gathered)) = self.continued.as_mut() else {
                    return Some(self.end(Inbound::Closed));
                };
                if gathered.len() + bytes.len() > MAX_FRAME_BYTES {
                    return Some(self.end(Inbound::TooBig));
                }
                gathered.extend_from_slice(&bytes);
                if !last {
                    return None;
                }
                let (text, whole) = self.continued.take()?;
                Some(self.message(text, whole.freeze()))
            }
        }
    }

    fn message(&mut self, text: bool, bytes: Bytes) -> Inbound {
        if !text {
            return Inbound::Invalid("binary frames are not supported; send JSON text".into());
        }
        let Ok(text) = std::str::from_utf8(&bytes) else {
            // Not UTF-8: a protocol violation for a text message, so the connection ends.
            return self.end(Inbound::Closed);
        };
        match serde_json::from_str::<ClientFrame>(text) {
            Ok(frame) => Inbound::Frame(frame),
            Err(e) => Inbound::Invalid(format!("not a valid frame: {e}")),
        }
    }

    fn end(&mut self, item: Inbound) -> Inbound {
        self.done = true;
        self.buf = BytesMut::new();
        self.continued = None;
        item
    }
}

impl Stream for Frames {
    type Item = Inbound;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Inbound>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            match this.codec.decode(&mut this.buf) {
                Ok(Some(frame)) => match this.on_frame(frame) {
                    Some(item) => return Poll::Ready(Some(item)),
                    None => continue,
                },
                Ok(None) => {}
                Err(ProtocolError::Overflow) => return Poll::Ready(Some(this.end(Inbound::TooBig))),
                Err(e) => {
                    tracing::debug!(error = %e, "websocket protocol error");
                    return Poll::Ready(Some(this.end(Inbound::Closed)));
                }
            }
            match Pin::new(&mut this.payload).poll_next(cx) {
                Poll::Ready(Some(Ok(bytes))) => {
                    if this.buf.is_empty() {
                        // No copy when nothing is waiting: the chunk becomes the buffer.
                        this.buf = BytesMut::from(bytes);
                    } else {
                        this.buf.extend_from_slice(&bytes);
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    tracing::debug!(error = %e, "websocket connection broke");
                    return Poll::Ready(Some(this.end(Inbound::Closed)));
                }
                Poll::Ready(None) => return Poll::Ready(Some(this.end(Inbound::Closed))),
                Poll::Pending => {
                    if this.buf.is_empty() {
                        // Nothing half-read: keep no buffer while the client is quiet.
                        this.buf = BytesMut::new();
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}
