//! The SessionActor: one per WebSocket connection.
//!
//! It knows the viewer, keeps the heartbeat, answers pings, bounds the buys in flight, paces what
//! the connection sends the room (a rate over chat and likes, likes summed between flushes, see
//! [`Intake`]), and turns client frames into room messages or order-desk calls. It never touches the socket: the
//! gateway sends it parsed frames ([`Inbound`]) and the connection's writer drains its outbox.
//! Its snapshot (the viewer's chat position and unanswered buys, `resume.rs`) carries a viewer
//! across a reconnect.

use super::frames::{ClientFrame, Quantity, ServerFrame};
use super::intake::{Admission, Intake, SessionConfig};
use super::order_desk::{BuyRequest, OrderDesk};
use super::outbox::{CloseCode, Outgoing, Policy, SharedOutbox};
use super::resume::{self, InFlight, Restored, Saved};
use crate::identity::Role;
use crate::ids::{ListingId, RoomId, UserId};
use crate::mailbox::Queued;
use crate::room::{AddLikes, ChatPosition, Join, Leave, PostChat, RoomActor};
use crate::snapshot::SnapshotStore;
use actix::prelude::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub type SessionId = u64;

static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

/// How often the server pings, and how long a silent client is kept.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);
/// Buys one connection may have waiting on the order path at once.
const MAX_BUYS_IN_FLIGHT: usize = 16;
/// The contract's chat length.
const MAX_CHAT_CHARS: usize = 500;
const MAX_LIKES_PER_FRAME: u32 = 100;

/// Who is connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    pub user_id: UserId,
    pub nickname: String,
    pub role: Role,
}

/// What arrives from the client, already parsed by the gateway, which stops reading while a few
/// (eight) wait for the session to take them.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub enum Inbound {
    Frame(ClientFrame),
    /// Text that is not a valid client frame; the reason goes back in an error frame.
    Invalid(String),
    /// A protocol-level ping, to be answered with the same payload.
    Ping(Vec<u8>),
    /// Any other sign of life (a protocol-level pong).
    Heard,
    /// A frame over the size limit.
    TooBig,
    /// The client closed, or the connection broke.
    Closed,
}

/// The writer finished (client gone, or the close frame was sent): stop the session.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Disconnect;

/// What a session reaches beyond its room: the order path and the snapshot store.
#[derive(Clone)]
pub struct SessionPorts {
    pub desk: Arc<dyn OrderDesk>,
    pub snapshots: Arc<dyn SnapshotStore>,
}

pub struct SessionActor {
    id: SessionId,
    pub(super) viewer: Viewer,
    pub(super) room_id: RoomId,
    room: Addr<RoomActor>,
    pub(super) outbox: Arc<SharedOutbox>,
    desk: Arc<dyn OrderDesk>,
    pub(super) snapshots: Arc<dyn SnapshotStore>,
    /// `(epoch, offset)` from the upgrade URL, for chat replay; else the snapshot's.
    resume: Option<(u64, u64)>,
    /// Where the chat stood at the welcome; set once joined.
    pub(super) chat_position: Option<ChatPosition>,
    last_heard: Instant,
    /// Buys on the order path by `request_id`: bounded, answered once each, and snapshotted.
    pub(super) in_flight: HashMap<String, InFlight>,
    pub(super) saved: Saved,
    config: SessionConfig,
    intake: Intake,
}

impl SessionActor {
    pub fn new(
        viewer: Viewer,
        room_id: RoomId,
        room: Addr<RoomActor>,
        outbox: Arc<SharedOutbox>,
        ports: SessionPorts,
        resume: Option<(u64, u64)>,
        config: SessionConfig,
    ) -> Self {
        Self {
            id: NEXT_SESSION.fetch_add(1, Ordering::Relaxed),
            viewer,
            room_id,
            room,
            outbox,
            desk: ports.desk,
            snapshots: ports.snapshots,
            resume,
            chat_position: None,
            last_heard: Instant::now(),
            in_flight: HashMap::new(),
            saved: Saved::default(),
            config,
            intake: Intake::new(config.inbound_limit, Instant::now()),
        }
    }

    /// Joins the room, resuming the chat from the client's position or else the snapshot's, then
    /// places again the buys the last connection left unanswered.
    fn join(&mut self, restored: Restored, ctx: &mut Context<Self>) {
        let join = Join {
            session_id: self.id,
            viewer: self.viewer.clone(),
            outbox: self.outbox.clone(),
            resume: self.resume.or(restored.resume),
            queued: Queued::room(),
        };
        // Nothing from the client is handled before the welcome is queued.
        ctx.wait(
            self.room
                .send(join)
                .into_actor(self)
                .map(move |joined, act, ctx| match joined {
                    Ok(position) => {
                        act.chat_position = Some(position);
                        for buy in restored.buys {
                            let quantity = Quantity::units(buy.quantity);
                            act.place(buy.request_id, buy.listing_id, quantity, buy.sent_at_ms, ctx);
                        }
                    }
                    Err(_) => {
                        act.outbox.close(CloseCode::GoingAway, "the room is unavailable");
                        ctx.stop();
                    }
                }),
        );
    }

    /// Sends a buy to the order desk and its answer, when it comes, to the viewer.
    fn place(
        &mut self,
        request_id: String,
        listing_id: ListingId,
        quantity: Quantity,
        sent_at_ms: i64,
        ctx: &mut Context<Self>,
    ) {
        let buy = InFlight {
            listing_id,
            quantity,
            sent_at_ms,
        };
        self.in_flight.insert(request_id.clone(), buy);
        self.saved.buys_changed = true;
        let request = BuyRequest {
            request_id: request_id.clone(),
            user_id: self.viewer.user_id,
            role: self.viewer.role,
            room_id: self.room_id,
            listing_id,
            quantity,
        };
        let bought = self.desk.buy(request);
        ctx.spawn(bought.into_actor(self).map(move |result, act, _ctx| {
            act.in_flight.remove(&request_id);
            if act.in_flight.is_empty() {
                // Most viewers buy now and then: an idle one keeps no table from its last burst.
                act.in_flight = HashMap::new();
            }
            act.saved.buys_changed = true;
            let frame = match result {
                Ok(order) => ServerFrame::Order {
                    request_id,
                    order: Some(order.into()),
                    error: None,
                },
                Err(error) => ServerFrame::Order {
                    request_id,
                    order: None,
                    error: Some(error),
                },
            };
            act.reply(frame);
        }));
    }

    /// Whether a chat or like frame may go on to the room; tells the sender (now and then) when not.
    fn admit(&mut self, frame: &'static str) -> bool {
        match self.intake.admit(Instant::now()) {
            Admission::Pass => true,
            Admission::Refuse { notify } => {
                metrics::counter!("livecart_ws_frames_rate_limited_total").increment(1);
                if notify {
                    self.reply(ServerFrame::refused(
                        frame,
                        "rate_limited",
                        "slow down: too many frames on this connection; the extra ones were dropped",
                    ));
                }
                false
            }
        }
    }

    /// Takes the summed likes to the room in one message. If the room's mailbox is full they
    /// wait for the next flush; if the room is gone they go with it.
    fn flush_likes(&mut self, ctx: &mut Context<Self>) {
        let Some(count) = self.intake.take_likes() else {
            return;
        };
        let likes = AddLikes {
            count,
            queued: Queued::room(),
        };
        if let Err(SendError::Full(AddLikes { count, .. })) = self.room.try_send(likes) {
            if self.intake.add_likes(count) {
                ctx.run_later(self.config.like_flush_every, |act, ctx| act.flush_likes(ctx));
            }
        }
    }

    fn reply(&self, frame: ServerFrame) {
        self.outbox.push(frame.encode(), Policy::MustDeliver);
    }

    fn on_frame(&mut self, frame: ClientFrame, ctx: &mut Context<Self>) {
        match frame {
            ClientFrame::Ping => self.reply(ServerFrame::Pong),
            ClientFrame::Chat { text } => {
                if !self.admit("chat") {
                    return;
                }
                let length = text.chars().count();
                if length == 0 || length > MAX_CHAT_CHARS || text.trim().is_empty() {
                    self.reply(ServerFrame::refused(
                        "chat",
                        "invalid_field",
                        "chat text must be 1 to 500 characters",
                    ));
                    return;
                }
                let post = PostChat {
                    session_id: self.id,
                    text,
                    queued: Queued::room(),
                };
                if self.room.try_send(post).is_err() {
                    self.reply(ServerFrame::refused(
                        "chat",
                        "rate_limited",
                        "the room is busy; try again",
                    ));
                }
            }
            ClientFrame::Like { count } => {
                if !self.admit("like") {
                    return;
                }
                if count == 0 || count > MAX_LIKES_PER_FRAME {
                    self.reply(ServerFrame::refused("like", "invalid_field", "count must be 1 to 100"));
                    return;
                }
                if self.intake.add_likes(count) {
                    ctx.run_later(self.config.like_flush_every, |act, ctx| act.flush_likes(ctx));
                }
            }
            ClientFrame::Buy {
                request_id,
                listing_id,
                quantity,
            } => {
                if self.in_flight.contains_key(&request_id) {
                    // Resent while its first frame (or the last connection's) is still on the
                    // order path: that one's answer is the answer, sent once.
                    return;
                }
                if self.in_flight.len() >= MAX_BUYS_IN_FLIGHT {
                    let error = super::FrameError::new("rate_limited", "too many buys in flight on this connection");
                    self.reply(ServerFrame::Order {
                        request_id,
                        order: None,
                        error: Some(error),
                    });
                    return;
                }
                self.place(request_id, listing_id, quantity, resume::now_ms(), ctx);
            }
        }
    }
}

impl Actor for SessionActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let load = self.snapshots.load_session(self.room_id, self.viewer.user_id);
        let load = actix::clock::timeout(resume::LOAD_WITHIN, load);
        ctx.wait(load.into_actor(self).map(|loaded, act, ctx| {
            let restored = match loaded {
                Ok(Ok(Some(snapshot))) => resume::restore(snapshot, resume::now_ms()),
                Ok(Ok(None)) => Restored::default(),
                Ok(Err(err)) => {
                    metrics::counter!("livecart_snapshots_failed_total").increment(1);
                    tracing::debug!(room.id = %act.room_id, error = %err, "session snapshot not read");
                    Restored::default()
                }
                Err(_) => {
                    metrics::counter!("livecart_snapshots_failed_total").increment(1);
                    tracing::debug!(room.id = %act.room_id, "session snapshot not read in time");
                    Restored::default()
                }
            };
            act.join(restored, ctx);
        }));
        ctx.run_interval(HEARTBEAT_EVERY, |act, ctx| {
            if act.last_heard.elapsed() > CLIENT_TIMEOUT {
                act.outbox.close(CloseCode::GoingAway, "no heartbeat");
                ctx.stop();
            } else if act.outbox.close_if_stalled() {
                ctx.stop();
            } else {
                act.outbox.push_control(Outgoing::Ping);
                act.save_if_moved();
            }
        });
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        // Before leaving: once the room no longer counts this viewer, the snapshot is queued.
        self.save_snapshot();
        // Likes still being summed are the viewer's too.
        if let Some(count) = self.intake.take_likes() {
            let _ = self.room.try_send(AddLikes {
                count,
                queued: Queued::room(),
            });
        }
        self.room.do_send(Leave {
            session_id: self.id,
            queued: Queued::room(),
        });
        self.outbox.close(CloseCode::Normal, "bye");
    }
}

impl Handler<Inbound> for SessionActor {
    type Result = ();

    fn handle(&mut self, item: Inbound, ctx: &mut Self::Context) {
        self.last_heard = Instant::now();
        match item {
            Inbound::Frame(frame) => self.on_frame(frame, ctx),
            Inbound::Invalid(reason) => self.reply(ServerFrame::error("bad_request", reason)),
            Inbound::Ping(payload) => {
                self.outbox.push_control(Outgoing::Pong(payload));
            }
            Inbound::Heard => {}
            Inbound::TooBig => {
                self.outbox.close(CloseCode::TooBig, "frame too large");
                ctx.stop();
            }
            Inbound::Closed => ctx.stop(),
        }
    }
}

impl Handler<Disconnect> for SessionActor {
    type Result = ();

    fn handle(&mut self, _msg: Disconnect, ctx: &mut Self::Context) {
        ctx.stop();
    }
}
