//! Client frames off the wire, parsed into what the SessionActor understands.
//!
//! Bytes read from the socket are decoded with actix-http's WebSocket codec (masking, opcodes,
//! control-frame rules, the frame size limit) and continuation frames are gathered into one
//! message of at most [`MAX_FRAME_BYTES`]. Bytes are kept on the heap only while a frame is
//! partly received: once a read has been decoded to the end the buffer is released, so an idle
//! connection holds no buffer here.

use super::MAX_FRAME_BYTES;

/// The longest frame header: 2 bytes, a 64-bit length and the 4-byte mask.
const MAX_HEADER_BYTES: usize = 14;
use actix_codec::Decoder;
use actix_http::ws::{Codec, Frame, Item, ProtocolError};
use actix_web::web::{Bytes, BytesMut};
use livecart_actors::session::{ClientFrame, Inbound};

pub struct Reader {
    codec: Codec,
    /// Bytes read but not yet a whole frame; empty, with no allocation, between frames.
    buf: BytesMut,
    /// A message arriving in continuation frames: whether it is text, and its bytes so far.
    continued: Option<(bool, BytesMut)>,
    /// The connection is over (closed, broken or refused): nothing more is decoded.
    done: bool,
}

impl Default for Reader {
    fn default() -> Self {
        Self {
            codec: Codec::new().max_size(MAX_FRAME_BYTES),
            buf: BytesMut::new(),
            continued: None,
            done: false,
        }
    }
}

impl Reader {
    /// Whether the read side is over: the last item ([`Inbound::Closed`] or
    /// [`Inbound::TooBig`]) has been handed out, and nothing more is read.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Takes bytes just read from the socket.
    pub fn feed(&mut self, bytes: &[u8]) {
        if !self.done {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// The socket reached its end or broke: the session hears that the client is gone.
    pub fn end_of_input(&mut self) -> Inbound {
        self.end(Inbound::Closed)
    }

    /// The next item for the session from the bytes fed so far; `None` when more must be read.
    pub fn next_item(&mut self) -> Option<Inbound> {
        while !self.done {
            match self.codec.decode(&mut self.buf) {
                Ok(Some(frame)) => {
                    if let Some(item) = self.on_frame(frame) {
                        return Some(item);
                    }
                }
                Ok(None) => {
                    if self.buf.is_empty() {
                        // Nothing half-read: keep no buffer while the client is quiet.
                        self.buf = BytesMut::new();
                    } else if self.buf.len() > MAX_HEADER_BYTES + MAX_FRAME_BYTES {
                        // The codec refuses a frame over the limit only once all of it is in,
                        // so a client announcing a huge one would have us hold all it sends.
                        return Some(self.end(Inbound::TooBig));
                    }
                    return None;
                }
                Err(ProtocolError::Overflow) => return Some(self.end(Inbound::TooBig)),
                Err(e) => {
                    tracing::debug!(error = %e, "websocket protocol error");
                    return Some(self.end(Inbound::Closed));
                }
            }
        }
        None
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

#[cfg(test)]
mod tests {
    use super::*;
    use actix_http::ws::{OpCode, Parser};

    /// A client's frame: masked, as RFC 6455 requires of clients.
    fn client_frame(op: OpCode, payload: &[u8]) -> Vec<u8> {
        let mut frame = BytesMut::new();
        Parser::write_message(&mut frame, payload, op, true, true);
        frame.to_vec()
    }

    #[test]
    fn a_frame_cut_anywhere_is_read_whole_once_its_rest_arrives_and_no_buffer_is_kept() {
        let frame = client_frame(OpCode::Text, br#"{"type":"ping"}"#);
        for cut in 0..frame.len() {
            let mut reader = Reader::default();
            reader.feed(&frame[..cut]);
            assert!(reader.next_item().is_none(), "cut at {cut}: not a frame yet");
            reader.feed(&frame[cut..]);
            assert!(
                matches!(reader.next_item(), Some(Inbound::Frame(ClientFrame::Ping))),
                "cut at {cut}"
            );
            assert!(reader.next_item().is_none());
            assert_eq!(reader.buf.capacity(), 0, "cut at {cut}: the buffer is released");
        }
    }

    #[test]
    fn frames_read_together_come_out_one_by_one() {
        let mut bytes = client_frame(OpCode::Text, br#"{"type":"ping"}"#);
        bytes.extend(client_frame(OpCode::Ping, b"hi"));
        bytes.extend(client_frame(OpCode::Binary, b"\x00"));
        let mut reader = Reader::default();
        reader.feed(&bytes);
        assert!(matches!(reader.next_item(), Some(Inbound::Frame(ClientFrame::Ping))));
        assert!(matches!(reader.next_item(), Some(Inbound::Ping(p)) if p == b"hi"));
        assert!(matches!(reader.next_item(), Some(Inbound::Invalid(_))));
        assert!(reader.next_item().is_none());
    }

    #[test]
    fn an_unmasked_frame_ends_the_read_side() {
        let mut frame = BytesMut::new();
        Parser::write_message(&mut frame, br#"{"type":"ping"}"#, OpCode::Text, true, false);
        let mut reader = Reader::default();
        reader.feed(&frame);
        assert!(matches!(reader.next_item(), Some(Inbound::Closed)));
        assert!(reader.is_done());
        reader.feed(&client_frame(OpCode::Text, br#"{"type":"ping"}"#));
        assert!(reader.next_item().is_none(), "nothing is read after the end");
    }

    #[test]
    fn a_frame_over_the_limit_is_too_big_before_more_than_the_limit_is_held() {
        let frame = client_frame(OpCode::Text, &vec![b'x'; 4 * MAX_FRAME_BYTES]);
        let mut reader = Reader::default();
        let mut fed = 0;
        for chunk in frame.chunks(4096) {
            reader.feed(chunk);
            fed += chunk.len();
            match reader.next_item() {
                None => assert!(fed <= MAX_HEADER_BYTES + MAX_FRAME_BYTES, "{fed} bytes held"),
                Some(Inbound::TooBig) => break,
                Some(other) => panic!("{other:?}"),
            }
        }
        assert!(reader.is_done());
        assert!(
            fed <= MAX_HEADER_BYTES + MAX_FRAME_BYTES + 4096,
            "refused after {fed} bytes"
        );
    }

    #[test]
    fn a_frame_of_exactly_the_limit_is_read() {
        let text = format!(r#"{{"type":"chat","text":"{}"}}"#, "x".repeat(MAX_FRAME_BYTES - 25));
        assert_eq!(text.len(), MAX_FRAME_BYTES);
        let mut reader = Reader::default();
        for chunk in client_frame(OpCode::Text, text.as_bytes()).chunks(4096) {
            assert!(reader.next_item().is_none());
            reader.feed(chunk);
        }
        assert!(matches!(
            reader.next_item(),
            Some(Inbound::Frame(ClientFrame::Chat { .. }))
        ));
    }
}
