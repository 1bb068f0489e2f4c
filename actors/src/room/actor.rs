//! The RoomActor: one live room's status, listings, audience, chat, likes and fan-out.
//!
//! Status changes arrive already durable and are pushed into every listing's InventoryActor,
//! which lets a reservation be decided in one actor without asking the room. High-rate updates
//! (stock, likes, viewers) are marked dirty and flushed on a short tick, so a flash sale of
//! thousands of orders a second costs viewers a few frames a second. Every broadcast is
//! serialized once here and handed to the fan-out shards, which push the shared bytes into each
//! session's outbox; nothing here waits on a client.

use super::chat::ChatRing;
use super::fanout::{AddSession, Broadcast, FanoutShard, RemoveSession};
use super::limiter::{RateLimit, TokenBucket};
use super::messages::*;
use crate::clock::Clock;
use crate::ids::{ListingId, RoomId, UserId};
use crate::inventory::{InventoryActor, SetRoomStatus};
use crate::room::RoomStatus;
use crate::session::frames::RoomSummary;
use crate::session::{LatestKey, ListingInfo, Policy, ServerFrame, SessionId, SharedOutbox, Viewer};
use actix::prelude::*;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How the room paces its audience.
#[derive(Debug, Clone, Copy)]
pub struct RoomConfig {
    /// Per-user chat rate; `None` turns it off (load tests).
    pub chat_limit: Option<RateLimit>,
    /// Chat messages kept for replay after a reconnect.
    pub chat_capacity: usize,
    /// How often coalesced updates (stock, likes, viewers) go out.
    pub flush_every: Duration,
}

impl Default for RoomConfig {
    fn default() -> Self {
        Self {
            chat_limit: Some(RateLimit {
                per_second: 2.0,
                burst: 5.0,
            }),
            chat_capacity: 200,
            flush_every: Duration::from_millis(200),
        }
    }
}

/// The room as stored, to start from.
#[derive(Debug, Clone)]
pub struct RoomInit {
    pub room_id: RoomId,
    pub merchant_id: UserId,
    pub status: RoomStatus,
    pub pinned_listing_id: Option<ListingId>,
    pub muted: HashSet<UserId>,
    /// Identifies this incarnation's chat ring (see [`ChatRing`]).
    pub epoch: u64,
}

struct Member {
    viewer: Viewer,
    outbox: Arc<SharedOutbox>,
    shard: usize,
}

pub struct RoomActor {
    room_id: RoomId,
    merchant_id: UserId,
    status: RoomStatus,
    pinned_listing_id: Option<ListingId>,
    clock: Arc<dyn Clock>,
    config: RoomConfig,
    listings: Vec<ListingId>,
    info: HashMap<ListingId, ListingInfo>,
    inventories: HashMap<ListingId, Addr<InventoryActor>>,
    shards: Vec<Addr<FanoutShard>>,
    next_shard: usize,
    members: HashMap<SessionId, Member>,
    /// Connections per user: the viewer count is the number of distinct users.
    connections: HashMap<UserId, u32>,
    likes: u64,
    chat: ChatRing,
    muted: HashSet<UserId>,
    chat_buckets: HashMap<UserId, TokenBucket>,
    dirty_stock: HashSet<ListingId>,
    likes_dirty: bool,
    viewers_dirty: bool,
    /// Listings whose `sale_open` went out.
    announced_open: HashSet<ListingId>,
}

impl RoomActor {
    pub fn new(init: RoomInit, shards: Vec<Addr<FanoutShard>>, clock: Arc<dyn Clock>, config: RoomConfig) -> Self {
        Self {
            room_id: init.room_id,
            merchant_id: init.merchant_id,
            status: init.status,
            pinned_listing_id: init.pinned_listing_id,
            clock,
            config,
            listings: Vec::new(),
            info: HashMap::new(),
            inventories: HashMap::new(),
            shards,
            next_shard: 0,
            members: HashMap::new(),
            connections: HashMap::new(),
            likes: 0,
            chat: ChatRing::new(init.epoch, config.chat_capacity),
            muted: init.muted,
            chat_buckets: HashMap::new(),
            dirty_stock: HashSet::new(),
            likes_dirty: false,
            viewers_dirty: false,
            announced_open: HashSet::new(),
        }
    }

    fn broadcast(&self, frame: &ServerFrame, policy: Policy) {
        let frame = frame.encode();
        for shard in &self.shards {
            // do_send: shards only copy pointers into bounded outboxes, so they keep up.
            shard.do_send(Broadcast {
                frame: frame.clone(),
                policy,
            });
        }
    }

    fn flush(&mut self) {
        for listing_id in std::mem::take(&mut self.dirty_stock) {
            if let Some(info) = self.info.get(&listing_id) {
                let frame = ServerFrame::Stock {
                    listing_id,
                    stock_left: info.stock_left,
                };
                self.broadcast(&frame, Policy::Latest(LatestKey::Stock(listing_id)));
            }
        }
        if std::mem::take(&mut self.likes_dirty) {
            self.broadcast(
                &ServerFrame::Likes { total: self.likes },
                Policy::Latest(LatestKey::Likes),
            );
        }
        if std::mem::take(&mut self.viewers_dirty) {
            let frame = ServerFrame::Viewers {
                count: self.connections.len() as u64,
            };
            self.broadcast(&frame, Policy::Latest(LatestKey::Viewers));
        }
        self.announce_open_sales();
    }

    /// Sends `sale_open` once per listing, when the room is live and the server's time is
    /// inside the listing's window.
    fn announce_open_sales(&mut self) {
        if self.status != RoomStatus::Live {
            return;
        }
        let now = self.clock.now();
        let opening: Vec<ListingId> = self
            .listings
            .iter()
            .filter(|id| !self.announced_open.contains(*id))
            .filter(|id| {
                self.info
                    .get(*id)
                    .is_some_and(|l| l.starts_at.is_none_or(|s| s <= now) && l.ends_at.is_none_or(|e| now < e))
            })
            .copied()
            .collect();
        for listing_id in opening {
            self.announced_open.insert(listing_id);
            self.broadcast(&ServerFrame::SaleOpen { listing_id }, Policy::MustDeliver);
        }
    }

    fn welcome(&self, resume: Option<(u64, u64)>) -> (ServerFrame, Vec<ServerFrame>) {
        let missed = resume.and_then(|(epoch, offset)| self.chat.since(epoch, offset));
        let recovered = missed.is_some();
        let welcome = ServerFrame::Welcome {
            room: RoomSummary {
                id: self.room_id,
                status: self.status.as_str(),
                pinned_listing_id: self.pinned_listing_id,
                viewer_count: self.connections.len() as u64,
                like_count: self.likes,
            },
            listings: self
                .listings
                .iter()
                .filter_map(|id| self.info.get(id).cloned())
                .collect(),
            epoch: self.chat.epoch(),
            offset: self.chat.last_offset(),
            recovered,
        };
        let replay = missed
            .unwrap_or_default()
            .into_iter()
            .map(|m| ServerFrame::Chat {
                offset: m.offset,
                user_id: m.user_id,
                nickname: m.nickname,
                text: m.text,
                at: m.at,
            })
            .collect();
        (welcome, replay)
    }
}

impl Actor for RoomActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Sessions use try_send for chat and likes; a deep mailbox absorbs a burst.
        ctx.set_mailbox_capacity(8192);
        ctx.run_interval(self.config.flush_every, |act, _ctx| act.flush());
    }
}

impl Handler<ChangeStatus> for RoomActor {
    type Result = ();

    fn handle(&mut self, msg: ChangeStatus, _ctx: &mut Self::Context) {
        self.status = msg.status;
        for inventory in self.inventories.values() {
            // do_send: a status change must reach every listing, whatever its mailbox holds.
            inventory.do_send(SetRoomStatus { status: msg.status });
        }
        self.broadcast(
            &ServerFrame::LiveStatus {
                status: msg.status.as_str(),
            },
            Policy::MustDeliver,
        );
        self.announce_open_sales();
    }
}

impl Handler<AttachListing> for RoomActor {
    type Result = ();

    fn handle(&mut self, msg: AttachListing, _ctx: &mut Self::Context) {
        let listing_id = msg.listing.id;
        if self.inventories.contains_key(&listing_id) {
            return;
        }
        // The listing may have been created while this room was starting: give it the status now.
        msg.inventory.do_send(SetRoomStatus { status: self.status });
        self.listings.push(listing_id);
        self.broadcast(
            &ServerFrame::Listing {
                listing: msg.listing.clone(),
            },
            Policy::MustDeliver,
        );
        self.info.insert(listing_id, msg.listing);
        self.inventories.insert(listing_id, msg.inventory);
    }
}

impl Handler<Pin> for RoomActor {
    type Result = ();

    fn handle(&mut self, msg: Pin, _ctx: &mut Self::Context) {
        self.pinned_listing_id = Some(msg.listing_id);
        let frame = ServerFrame::Pinned {
            listing_id: msg.listing_id,
        };
        self.broadcast(&frame, Policy::Latest(LatestKey::Pinned));
    }
}

impl Handler<StockChanged> for RoomActor {
    type Result = ();

    fn handle(&mut self, msg: StockChanged, _ctx: &mut Self::Context) {
        if let Some(info) = self.info.get_mut(&msg.listing_id) {
            info.stock_left = msg.stock_left;
            info.stock = msg.total;
            self.dirty_stock.insert(msg.listing_id);
        }
    }
}

impl Handler<Describe> for RoomActor {
    type Result = MessageResult<Describe>;

    fn handle(&mut self, _msg: Describe, _ctx: &mut Self::Context) -> Self::Result {
        let listings = self
            .listings
            .iter()
            .filter_map(|id| self.inventories.get(id).map(|addr| (*id, addr.clone())))
            .collect();
        MessageResult(RoomView {
            room_id: self.room_id,
            merchant_id: self.merchant_id,
            status: self.status,
            pinned_listing_id: self.pinned_listing_id,
            viewer_count: self.connections.len() as u64,
            like_count: self.likes,
            listings,
        })
    }
}

impl Handler<Join> for RoomActor {
    type Result = ();

    fn handle(&mut self, msg: Join, _ctx: &mut Self::Context) {
        let count = self.connections.entry(msg.viewer.user_id).or_insert(0);
        *count += 1;
        if *count == 1 {
            self.viewers_dirty = true;
        }
        let (welcome, replay) = self.welcome(msg.resume);
        msg.outbox.push(welcome.encode(), Policy::MustDeliver);
        for chat in replay {
            msg.outbox.push(chat.encode(), Policy::MustDeliver);
        }
        // Broadcasts sent after this reach the shard after AddSession: no gap, no duplicate.
        let shard = self.next_shard % self.shards.len().max(1);
        self.next_shard += 1;
        if let Some(addr) = self.shards.get(shard) {
            addr.do_send(AddSession {
                session_id: msg.session_id,
                outbox: msg.outbox.clone(),
            });
        }
        self.members.insert(
            msg.session_id,
            Member {
                viewer: msg.viewer,
                outbox: msg.outbox,
                shard,
            },
        );
    }
}

impl Handler<Leave> for RoomActor {
    type Result = ();

    fn handle(&mut self, msg: Leave, _ctx: &mut Self::Context) {
        let Some(member) = self.members.remove(&msg.session_id) else {
            return;
        };
        if let Some(addr) = self.shards.get(member.shard) {
            addr.do_send(RemoveSession {
                session_id: msg.session_id,
            });
        }
        let user_id = member.viewer.user_id;
        if let Some(count) = self.connections.get_mut(&user_id) {
            *count -= 1;
            if *count == 0 {
                self.connections.remove(&user_id);
                self.viewers_dirty = true;
            }
        }
    }
}

impl Handler<PostChat> for RoomActor {
    type Result = ();

    fn handle(&mut self, msg: PostChat, _ctx: &mut Self::Context) {
        let Some(member) = self.members.get(&msg.session_id) else {
            return;
        };
        let user_id = member.viewer.user_id;
        if self.muted.contains(&user_id) {
            let frame = ServerFrame::error("muted", "you are muted in this room");
            member.outbox.push(frame.encode(), Policy::MustDeliver);
            return;
        }
        if let Some(limit) = self.config.chat_limit {
            let now = Instant::now();
            let bucket = self
                .chat_buckets
                .entry(user_id)
                .or_insert_with(|| TokenBucket::full(limit, now));
            if !bucket.try_take(limit, now) {
                let frame = ServerFrame::error("rate_limited", "slow down: too many chat messages");
                member.outbox.push(frame.encode(), Policy::MustDeliver);
                return;
            }
        }
        let nickname = member.viewer.nickname.clone();
        let message = self.chat.append(user_id, nickname, msg.text, self.clock.now());
        let frame = ServerFrame::Chat {
            offset: message.offset,
            user_id,
            nickname: message.nickname.clone(),
            text: message.text.clone(),
            at: message.at,
        };
        self.broadcast(&frame, Policy::Droppable);
    }
}

impl Handler<AddLikes> for RoomActor {
    type Result = ();

    fn handle(&mut self, msg: AddLikes, _ctx: &mut Self::Context) {
        self.likes += u64::from(msg.count);
        self.likes_dirty = true;
    }
}

impl Handler<SetMuted> for RoomActor {
    type Result = ();

    fn handle(&mut self, msg: SetMuted, _ctx: &mut Self::Context) {
        if msg.muted {
            self.muted.insert(msg.user_id);
        } else {
            self.muted.remove(&msg.user_id);
        }
    }
}

impl Handler<DeleteChat> for RoomActor {
    type Result = bool;

    fn handle(&mut self, msg: DeleteChat, _ctx: &mut Self::Context) -> bool {
        let deleted = self.chat.delete(msg.offset);
        if deleted {
            self.broadcast(&ServerFrame::ChatDeleted { offset: msg.offset }, Policy::MustDeliver);
        }
        deleted
    }
}
