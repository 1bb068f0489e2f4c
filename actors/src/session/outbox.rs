//! A session's outbound queue: bounded, with a delivery policy per frame type.
//!
//! The room and the fan-out shards push here without ever waiting; only the session's writer
//! waits, on the client's socket. Memory per connection stays bounded whatever the client does:
//! - chat frames beyond `max_droppable` are dropped;
//! - latest-value frames (stock per listing, viewers, likes, pinned) replace the one of the same
//!   key still waiting, so at most one per key is ever queued;
//! - must-deliver frames (welcome, order results, live status, errors) beyond `max_must`
//!   cannot be honoured: the session is closed with [`CloseCode::ResyncRequired`].
//!
//! The writer takes everything waiting at each wake-up in one go ([`SharedOutbox::poll_batch`]),
//! so a burst becomes one write to the socket, not one per frame.
//!
//! A client that stops reading while only chat flows would never trip the must-deliver rule, so
//! a session whose frames have waited with no progress at all for `stall_after` is closed the
//! same way. Time, not a count of drops, tells a stopped reader from a slow one: a slow reader
//! still takes a frame now and then.

use bytestring::ByteString;
use futures_util::task::AtomicWaker;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::ids::ListingId;

/// The close codes of docs/protocol.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseCode {
    /// 1000: the server ends the session normally.
    Normal,
    /// 1001: the client stopped answering heartbeats, or the server is going away.
    GoingAway,
    /// 1009: a frame or message exceeded the size limit.
    TooBig,
    /// 4001: the client fell behind; reconnect with `epoch` and `offset` to resync.
    ResyncRequired,
}

impl CloseCode {
    pub fn code(self) -> u16 {
        match self {
            CloseCode::Normal => 1000,
            CloseCode::GoingAway => 1001,
            CloseCode::TooBig => 1009,
            CloseCode::ResyncRequired => 4001,
        }
    }
}

/// Which latest value a frame carries; a newer frame with the same key replaces a waiting one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LatestKey {
    Stock(ListingId),
    Viewers,
    Likes,
    Pinned,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// A chat message with its offset: dropped when too many wait. Once the writer takes it, its
    /// offset is where the viewer's chat resumes (see [`SharedOutbox::chat_offset`]).
    Chat(u64),
    Latest(LatestKey),
    MustDeliver,
    /// A chat message the viewer missed, replayed when it joins: it must go out, and it moves
    /// the resume point as [`Policy::Chat`] does.
    Replayed(u64),
}

/// What the writer sends next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    Text(ByteString),
    /// A protocol-level ping (heartbeat).
    Ping,
    /// Answer to the client's protocol-level ping.
    Pong(Vec<u8>),
    Close {
        code: CloseCode,
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxLimits {
    pub max_droppable: usize,
    pub max_must: usize,
    /// How long frames may wait with the writer taking none before the reader counts as gone.
    pub stall_after: Duration,
}

impl Default for OutboxLimits {
    fn default() -> Self {
        Self {
            max_droppable: 256,
            max_must: 256,
            stall_after: Duration::from_secs(3),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Queued,
    Coalesced,
    Dropped,
    /// The frame could not be honoured and the session is now closing.
    Closed,
}

#[derive(Debug)]
enum Slot {
    /// A chat frame and its offset.
    Droppable(ByteString, u64),
    Latest(LatestKey),
    /// With the chat offset it carries, for a replayed chat frame.
    Must(Outgoing, Option<u64>),
}

/// The queue itself, without locking: pure and unit-tested.
#[derive(Debug)]
pub struct Outbox {
    limits: OutboxLimits,
    slots: VecDeque<Slot>,
    latest: HashMap<LatestKey, ByteString>,
    droppable: usize,
    must: usize,
    /// When the writer last took a frame, or the queue last became non-empty.
    progress_at: Instant,
    /// Set once the session is closing: nothing more is queued.
    closing: bool,
    finished: bool,
    /// The newest chat offset the writer has taken.
    chat_offset: Option<u64>,
}

impl Outbox {
    pub fn new(limits: OutboxLimits) -> Self {
        Self {
            limits,
            slots: VecDeque::new(),
            latest: HashMap::new(),
            droppable: 0,
            must: 0,
            progress_at: Instant::now(),
            closing: false,
            finished: false,
            chat_offset: None,
        }
    }

    pub fn push(&mut self, frame: ByteString, policy: Policy, now: Instant) -> Pushed {
        if self.closing {
            return Pushed::Closed;
        }
        if self.slots.is_empty() {
            self.progress_at = now;
        }
        match policy {
            Policy::Chat(offset) => {
                if self.droppable >= self.limits.max_droppable {
                    if self.stalled(now) {
                        self.close(
                            CloseCode::ResyncRequired,
                            "too far behind: reconnect with epoch and offset",
                        );
                        return Pushed::Closed;
                    }
                    return Pushed::Dropped;
                }
                self.droppable += 1;
                self.slots.push_back(Slot::Droppable(frame, offset));
                Pushed::Queued
            }
            Policy::Latest(key) => {
                if self.latest.insert(key, frame).is_some() {
                    Pushed::Coalesced
                } else {
                    self.slots.push_back(Slot::Latest(key));
                    Pushed::Queued
                }
            }
            Policy::MustDeliver => self.push_must(Outgoing::Text(frame), None),
            Policy::Replayed(offset) => self.push_must(Outgoing::Text(frame), Some(offset)),
        }
    }

    /// Queues a control frame (ping, pong) that must go out.
    pub fn push_control(&mut self, item: Outgoing, now: Instant) -> Pushed {
        if self.closing {
            return Pushed::Closed;
        }
        if self.slots.is_empty() {
            self.progress_at = now;
        }
        self.push_must(item, None)
    }

    /// Frames have waited and the writer has taken none for `stall_after`: the reader is gone.
    pub fn stalled(&self, now: Instant) -> bool {
        !self.slots.is_empty() && now.saturating_duration_since(self.progress_at) > self.limits.stall_after
    }

    fn push_must(&mut self, item: Outgoing, chat_offset: Option<u64>) -> Pushed {
        if self.must >= self.limits.max_must {
            self.close(
                CloseCode::ResyncRequired,
                "too far behind: reconnect with epoch and offset",
            );
            return Pushed::Closed;
        }
        self.must += 1;
        self.slots.push_back(Slot::Must(item, chat_offset));
        Pushed::Queued
    }

    /// Drops everything waiting and queues the close frame; later pushes are refused.
    pub fn close(&mut self, code: CloseCode, reason: &str) {
        if self.closing {
            return;
        }
        self.closing = true;
        self.slots.clear();
        self.latest.clear();
        self.droppable = 0;
        self.must = 0;
        self.slots.push_back(Slot::Must(
            Outgoing::Close {
                code,
                reason: reason.to_owned(),
            },
            None,
        ));
    }

    pub fn is_closing(&self) -> bool {
        self.closing
    }

    /// Frames waiting, for metrics and tests.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Gives the queue's memory back once everything has been taken: most connections are idle
    /// most of the time, and a queue that once held a burst would otherwise keep its size.
    fn release_if_empty(&mut self) {
        if self.slots.is_empty() {
            self.slots = VecDeque::new();
            self.latest = HashMap::new();
        }
    }

    fn took_chat(&mut self, offset: u64) {
        self.chat_offset = Some(self.chat_offset.map_or(offset, |newest| newest.max(offset)));
    }

    /// The newest chat offset the writer has taken, if it took any: the viewer's resume point.
    pub fn chat_offset(&self) -> Option<u64> {
        self.chat_offset
    }

    /// The next frame for the writer; `None` when empty. After the close frame, always `None`.
    pub fn pop(&mut self) -> Option<Outgoing> {
        self.pop_at(Instant::now())
    }

    fn pop_at(&mut self, now: Instant) -> Option<Outgoing> {
        if self.finished {
            return None;
        }
        let slot = self.slots.pop_front()?;
        self.progress_at = now;
        let item = match slot {
            Slot::Droppable(frame, offset) => {
                self.droppable -= 1;
                self.took_chat(offset);
                Outgoing::Text(frame)
            }
            Slot::Latest(key) => match self.latest.remove(&key) {
                Some(frame) => Outgoing::Text(frame),
                None => return self.pop_at(now),
            },
            Slot::Must(item, chat_offset) => {
                self.must = self.must.saturating_sub(1);
                if let Some(offset) = chat_offset {
                    self.took_chat(offset);
                }
                item
            }
        };
        if matches!(item, Outgoing::Close { .. }) {
            self.finished = true;
        }
        Some(item)
    }
}

/// The outbox shared between its producers (room, shards, session) and the one writer.
#[derive(Debug)]
pub struct SharedOutbox {
    queue: Mutex<Outbox>,
    /// The writer, parked until something is queued. An `AtomicWaker` rather than a `Notify`:
    /// the writer is polled by the connection's own future, and this is two words per connection.
    writer: AtomicWaker,
}

impl SharedOutbox {
    pub fn new(limits: OutboxLimits) -> Self {
        Self {
            queue: Mutex::new(Outbox::new(limits)),
            writer: AtomicWaker::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Outbox> {
        // The queue's invariants hold between statements; a panic elsewhere cannot break them.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn push(&self, frame: ByteString, policy: Policy) -> Pushed {
        let pushed = self.lock().push(frame, policy, Instant::now());
        if pushed != Pushed::Dropped {
            self.writer.wake();
        }
        pushed
    }

    pub fn push_control(&self, item: Outgoing) -> Pushed {
        let pushed = self.lock().push_control(item, Instant::now());
        self.writer.wake();
        pushed
    }

    pub fn close(&self, code: CloseCode, reason: &str) {
        self.lock().close(code, reason);
        self.writer.wake();
    }

    /// The newest chat offset the writer has taken ([`Outbox::chat_offset`]).
    pub fn chat_offset(&self) -> Option<u64> {
        self.lock().chat_offset()
    }

    /// Closes the session if its reader has stalled (checked on the heartbeat, for a reader that
    /// stopped while nothing more is being pushed); `true` if it did.
    pub fn close_if_stalled(&self) -> bool {
        let mut queue = self.lock();
        if queue.stalled(Instant::now()) {
            queue.close(
                CloseCode::ResyncRequired,
                "too far behind: reconnect with epoch and offset",
            );
            drop(queue);
            self.writer.wake();
            true
        } else {
            false
        }
    }

    /// Hands every frame waiting now to `take`, in order, under one lock: `Ready(Some(n))` with
    /// how many (at least one), `Pending` (the writer is woken by the next push) when none is
    /// waiting, `Ready(None)` once the close frame has been handed out.
    pub fn poll_batch(&self, cx: &mut Context<'_>, mut take: impl FnMut(Outgoing)) -> Poll<Option<usize>> {
        // Registered before looking, so a push between the look and the return still wakes us.
        self.writer.register(cx.waker());
        let mut queue = self.lock();
        let mut taken = 0;
        while let Some(item) = queue.pop() {
            take(item);
            taken += 1;
        }
        queue.release_if_empty();
        if taken > 0 {
            Poll::Ready(Some(taken))
        } else if queue.finished {
            Poll::Ready(None)
        } else {
            Poll::Pending
        }
    }

    /// Waits for the next batch and returns it; `None` once the close frame has been handed out.
    pub async fn next_batch(&self) -> Option<Vec<Outgoing>> {
        let mut batch = Vec::new();
        std::future::poll_fn(|cx| self.poll_batch(cx, |item| batch.push(item)))
            .await
            .map(|_| std::mem::take(&mut batch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> OutboxLimits {
        OutboxLimits {
            max_droppable: 2,
            max_must: 2,
            stall_after: Duration::from_secs(3),
        }
    }

    fn text(s: &str) -> ByteString {
        ByteString::from(s.to_owned())
    }

    fn drain(outbox: &mut Outbox) -> Vec<Outgoing> {
        std::iter::from_fn(|| outbox.pop()).collect()
    }

    #[test]
    fn droppable_frames_beyond_the_cap_are_dropped() {
        let mut o = Outbox::new(limits());
        let now = Instant::now();
        assert_eq!(o.push(text("a"), Policy::Chat(1), now), Pushed::Queued);
        assert_eq!(o.push(text("b"), Policy::Chat(2), now), Pushed::Queued);
        assert_eq!(o.push(text("c"), Policy::Chat(3), now), Pushed::Dropped);
        assert_eq!(
            drain(&mut o),
            vec![Outgoing::Text(text("a")), Outgoing::Text(text("b"))]
        );
    }

    #[test]
    fn the_resume_point_is_the_newest_chat_offset_the_writer_took() {
        let mut o = Outbox::new(OutboxLimits {
            max_must: 8,
            ..limits()
        });
        let now = Instant::now();
        assert_eq!(o.chat_offset(), None, "nothing taken yet");
        o.push(text("missed 4"), Policy::Replayed(4), now);
        o.push(text("missed 5"), Policy::Replayed(5), now);
        o.push(text("order"), Policy::MustDeliver, now);
        o.push(text("chat 6"), Policy::Chat(6), now);
        assert_eq!(o.chat_offset(), None, "queued is not taken");
        o.pop();
        assert_eq!(o.chat_offset(), Some(4));
        drain(&mut o);
        assert_eq!(o.chat_offset(), Some(6));
        o.push(text("chat 7"), Policy::Chat(7), now);
        o.close(CloseCode::GoingAway, "bye");
        drain(&mut o);
        assert_eq!(
            o.chat_offset(),
            Some(6),
            "a frame dropped at the close never reached the viewer"
        );
    }

    #[test]
    fn latest_value_frames_coalesce_in_place() {
        let mut o = Outbox::new(limits());
        let now = Instant::now();
        let key = LatestKey::Stock(ListingId::nil());
        o.push(text("stock 9"), Policy::Latest(key), now);
        o.push(text("chat"), Policy::Chat(1), now);
        assert_eq!(o.push(text("stock 7"), Policy::Latest(key), now), Pushed::Coalesced);
        assert_eq!(
            drain(&mut o),
            vec![Outgoing::Text(text("stock 7")), Outgoing::Text(text("chat"))]
        );
    }

    #[test]
    fn a_must_deliver_frame_that_cannot_be_queued_closes_with_resync() {
        let mut o = Outbox::new(limits());
        let now = Instant::now();
        o.push(text("m1"), Policy::MustDeliver, now);
        o.push(text("m2"), Policy::MustDeliver, now);
        assert_eq!(o.push(text("m3"), Policy::MustDeliver, now), Pushed::Closed);
        let out = drain(&mut o);
        assert!(
            matches!(
                out.as_slice(),
                [Outgoing::Close {
                    code: CloseCode::ResyncRequired,
                    ..
                }]
            ),
            "{out:?}"
        );
        assert_eq!(o.push(text("late"), Policy::MustDeliver, now), Pushed::Closed);
    }

    #[test]
    fn a_reader_that_takes_nothing_for_the_stall_time_is_closed() {
        let mut o = Outbox::new(limits());
        let t0 = Instant::now();
        for _ in 0..10 {
            assert_ne!(
                o.push(text("chat"), Policy::Chat(1), t0),
                Pushed::Closed,
                "a burst alone closes nothing"
            );
        }
        assert!(!o.stalled(t0 + Duration::from_secs(2)));
        let later = t0 + Duration::from_secs(4);
        assert!(o.stalled(later));
        assert_eq!(o.push(text("chat"), Policy::Chat(1), later), Pushed::Closed);
        assert!(o.len() <= 1, "memory is released on close");
    }

    #[test]
    fn a_slow_reader_that_keeps_taking_frames_is_kept() {
        let mut o = Outbox::new(limits());
        let t0 = Instant::now();
        for second in 0..10 {
            let now = t0 + Duration::from_secs(second);
            for _ in 0..50 {
                assert_ne!(o.push(text("chat"), Policy::Chat(1), now), Pushed::Closed);
            }
            o.pop_at(now);
        }
        assert!(!o.is_closing());
    }

    #[actix_rt::test]
    async fn the_writer_takes_a_whole_burst_in_order_at_one_wake_up() {
        let shared = SharedOutbox::new(OutboxLimits::default());
        let key = LatestKey::Stock(ListingId::nil());
        shared.push(text("stock 9"), Policy::Latest(key));
        for i in 0..100 {
            shared.push(text(&format!("chat {i}")), Policy::Chat(1));
        }
        shared.push(text("order"), Policy::MustDeliver);
        shared.push(text("stock 8"), Policy::Latest(key));
        let batch = shared.next_batch().await.expect("a batch");
        let mut expected = vec![Outgoing::Text(text("stock 8"))];
        expected.extend((0..100).map(|i| Outgoing::Text(text(&format!("chat {i}")))));
        expected.push(Outgoing::Text(text("order")));
        assert_eq!(
            batch, expected,
            "everything queued, coalesced and in order, in one batch"
        );

        shared.push(text("late"), Policy::Chat(1));
        shared.close(CloseCode::Normal, "bye");
        let last = shared.next_batch().await.expect("the close frame");
        assert!(
            matches!(
                last.as_slice(),
                [Outgoing::Close {
                    code: CloseCode::Normal,
                    ..
                }]
            ),
            "{last:?}"
        );
        assert_eq!(shared.next_batch().await, None, "nothing after the close frame");
    }

    #[actix_rt::test]
    async fn a_waiting_writer_wakes_when_a_frame_is_pushed() {
        let shared = std::sync::Arc::new(SharedOutbox::new(OutboxLimits::default()));
        let pusher = shared.clone();
        let waiting = actix_rt::spawn(async move { shared.next_batch().await });
        actix_rt::task::yield_now().await;
        pusher.push(text("hello"), Policy::MustDeliver);
        let batch = waiting.await.expect("the writer's task ends");
        assert_eq!(batch, Some(vec![Outgoing::Text(text("hello"))]));
    }

    #[test]
    fn an_idle_queue_is_not_stalled() {
        let o = Outbox::new(limits());
        assert!(!o.stalled(Instant::now() + Duration::from_secs(60)));
    }
}
