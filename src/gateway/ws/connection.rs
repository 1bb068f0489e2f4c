//! An upgraded room WebSocket, driven straight on its socket: the connection's one task.
//!
//! actix-http's HTTP/1 dispatcher keeps an 8 KiB read buffer and an 8 KiB write buffer for a
//! connection's whole life; here, after the upgrade, the socket is read only when it is readable,
//! into a buffer on the stack, and bytes go to the heap only while a frame is partly received
//! ([`Reader`]). Frames go out as the [`Writer`] drains the outbox. Each client item is handed
//! to the session with `Addr::send` and the next is not read before the session has it, so a
//! client sending faster than its session handles waits in its own socket, not in our memory.

use super::inbound::Reader;
use super::writer::Writer;
use actix::dev::Request;
use livecart_actors::session::{Inbound, SessionActor};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most read from the socket at once (on the stack; one client frame is usually far less).
const READ_CHUNK: usize = 4096;

pub struct Connection<T> {
    io: T,
    reader: Reader,
    writer: Writer,
    /// The item the session has not taken yet; boxed because idle connections have none.
    delivering: Option<Pin<Box<Request<SessionActor, Inbound>>>>,
    /// The writer is done: only the socket's shutdown is left.
    ending: bool,
}

impl<T: AsyncRead + AsyncWrite + Unpin> Connection<T> {
    /// `early` is what the client sent after the upgrade request, already read with it.
    pub fn new(io: T, early: &[u8], writer: Writer) -> Self {
        let mut reader = Reader::default();
        reader.feed(early);
        Self {
            io,
            reader,
            writer,
            delivering: None,
            ending: false,
        }
    }

    /// Reads and hands items to the session until the socket has nothing more for now, the
    /// session is busy with the last one, or the read side is over.
    fn poll_read(&mut self, cx: &mut Context<'_>) {
        loop {
            if let Some(delivering) = self.delivering.as_mut() {
                if delivering.as_mut().poll(cx).is_pending() {
                    return;
                }
                // Taken, or the session is gone; then the writer ends when its outbox closes.
                self.delivering = None;
            }
            if let Some(item) = self.reader.next_item() {
                self.delivering = Some(Box::pin(self.writer.session().send(item)));
                continue;
            }
            if self.reader.is_done() {
                return;
            }
            let mut chunk = [0u8; READ_CHUNK];
            let mut read = ReadBuf::new(&mut chunk);
            match Pin::new(&mut self.io).poll_read(cx, &mut read) {
                Poll::Pending => return,
                Poll::Ready(Ok(())) if read.filled().is_empty() => {
                    let end = self.reader.end_of_input();
                    self.delivering = Some(Box::pin(self.writer.session().send(end)));
                }
                Poll::Ready(Ok(())) => self.reader.feed(read.filled()),
                Poll::Ready(Err(e)) => {
                    tracing::debug!(error = %e, "websocket connection broke");
                    let end = self.reader.end_of_input();
                    self.delivering = Some(Box::pin(self.writer.session().send(end)));
                }
            }
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> Future for Connection<T> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if !this.ending {
            this.poll_read(cx);
            // The connection lasts as long as its writer: the session ends it through the outbox.
            if this.writer.poll_write(&mut this.io, cx).is_pending() {
                return Poll::Pending;
            }
            this.ending = true;
        }
        // A failed shutdown means the client is already gone: nothing is left to do either way.
        Pin::new(&mut this.io).poll_shutdown(cx).map(|_| ())
    }
}
