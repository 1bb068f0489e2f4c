//! An upgraded room WebSocket, driven straight on its socket: the connection's one task.
//!
//! actix-http's HTTP/1 dispatcher keeps an 8 KiB read buffer and an 8 KiB write buffer for a
//! connection's whole life; here, after the upgrade, the socket is read only when it is readable,
//! into a buffer on the stack, and bytes go to the heap only while a frame is partly received
//! ([`Reader`]). Frames go out as the [`Writer`] drains the outbox. Client items go to the
//! session's mailbox with `Addr::send`, at most [`MAX_IN_FLIGHT`] it has not handled yet; past
//! that nothing more is read until it has, so a client sending faster than its session handles
//! waits in its own socket, not in our memory.

use super::inbound::Reader;
use super::writer::Writer;
use actix::dev::Request;
use livecart_actors::session::{Inbound, SessionActor};
use std::collections::VecDeque;
use std::future::Future;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// How long a closed connection still reads what the client sends, waiting for it to close
/// too (as actix-http's `client_disconnect_timeout`, 1 s in the server's settings).
const LINGER: Duration = Duration::from_secs(1);

/// The most read from the socket at once (on the stack; one client frame is usually far less).
const READ_CHUNK: usize = 4096;

/// Client items in the session's mailbox not yet handled. More than one, so a burst (the load
/// tool's chat, like and buy) is not a round trip through the mailbox per frame; few, since each
/// may hold up to a 64 KiB message; fewer than the mailbox's 16 slots, so a send never finds it
/// full (actix's `Addr::send` would then wait without a wake-up).
const MAX_IN_FLIGHT: usize = 8;

pub struct Connection<T> {
    io: T,
    reader: Reader,
    writer: Writer,
    /// The replies to the items the session has not handled yet, oldest first. Each is kept
    /// until it comes: actix skips a message whose reply nobody waits for any more. Empty, with
    /// no allocation, on an idle connection.
    delivering: VecDeque<Pin<Box<Request<SessionActor, Inbound>>>>,
    /// Open, or how far the close has gone.
    phase: Phase,
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
            delivering: VecDeque::new(),
            phase: Phase::Open,
        }
    }

    /// Reads and hands items to the session until the socket has nothing more for now, the
    /// session has [`MAX_IN_FLIGHT`] to handle, or the read side is over.
    fn poll_read(&mut self, cx: &mut Context<'_>) {
        // Handled, or the session is gone; then the writer ends when its outbox closes.
        while let Some(oldest) = self.delivering.front_mut() {
            if oldest.as_mut().poll(cx).is_pending() {
                break;
            }
            self.delivering.pop_front();
        }
        if self.delivering.is_empty() {
            self.delivering = VecDeque::new();
        }
        while self.delivering.len() < MAX_IN_FLIGHT {
            if let Some(item) = self.reader.next_item() {
                self.deliver(item, cx);
                continue;
            }
            if self.reader.is_done() {
                return;
            }
            let mut chunk = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
            let mut read = ReadBuf::uninit(&mut chunk);
            match Pin::new(&mut self.io).poll_read(cx, &mut read) {
                Poll::Pending => return,
                Poll::Ready(Ok(())) if read.filled().is_empty() => {
                    let end = self.reader.end_of_input();
                    self.deliver(end, cx);
                }
                Poll::Ready(Ok(())) => self.reader.feed(read.filled()),
                Poll::Ready(Err(e)) => {
                    tracing::debug!(error = %e, "websocket connection broke");
                    let end = self.reader.end_of_input();
                    self.deliver(end, cx);
                }
            }
        }
    }

    /// Queues `item` in the session's mailbox; its reply is waited for once those before it came.
    fn deliver(&mut self, item: Inbound, cx: &mut Context<'_>) {
        let mut reply = Box::pin(self.writer.session().send(item));
        if self.delivering.is_empty() && reply.as_mut().poll(cx).is_ready() {
            // The session is gone: nothing to wait for; the writer ends with the outbox.
            return;
        }
        self.delivering.push_back(reply);
    }
}

/// The end of a connection. The server closing a socket with unread bytes from the client in it
/// resets the connection, and a reset makes the client drop what it has not read yet: the close
/// frame among it. So after its last write it sends FIN and reads on, discarding, until the
/// client closes too or [`LINGER`] has passed.
enum Phase {
    Open,
    ShuttingDown,
    /// Boxed: only closing connections need a timer.
    Lingering(Pin<Box<Sleep>>),
}

impl<T: AsyncRead + AsyncWrite + Unpin> Future for Connection<T> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        loop {
            match &mut this.phase {
                Phase::Open => {
                    this.poll_read(cx);
                    // The connection lasts as long as its writer: the session ends it through
                    // the outbox.
                    ready!(this.writer.poll_write(&mut this.io, cx));
                    this.phase = Phase::ShuttingDown;
                }
                Phase::ShuttingDown => {
                    if ready!(Pin::new(&mut this.io).poll_shutdown(cx)).is_err() {
                        // The client is already gone.
                        return Poll::Ready(());
                    }
                    this.phase = Phase::Lingering(Box::pin(tokio::time::sleep(LINGER)));
                }
                Phase::Lingering(linger) => {
                    if linger.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(());
                    }
                    let mut chunk = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
                    let mut read = ReadBuf::uninit(&mut chunk);
                    match ready!(Pin::new(&mut this.io).poll_read(cx, &mut read)) {
                        Ok(()) if !read.filled().is_empty() => continue,
                        // The client closed too, or the connection broke.
                        _ => return Poll::Ready(()),
                    }
                }
            }
        }
    }
}
