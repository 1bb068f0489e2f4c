//! The RoomActor: one live room's status, listings, audience, chat, likes and fan-out.
//!
//! Status changes arrive already durable and are pushed into every listing's InventoryActor,
//! which lets a reservation be decided in one actor without asking the room. High-rate updates
//! (stock, likes, viewers) are marked dirty and flushed on a short tick, so a flash sale of
//! thousands of orders a second costs viewers a few frames a second. Every broadcast is
//! serialized once here and handed to the fan-out shards, which push the shared bytes into each
//! session's outbox; nothing here waits on a client. The audience's messages (join, leave, chat,
//! likes, moderation) are handled in `audience.rs`.

use super::chat::ChatRing;
use super::fanout::{Broadcast, FanoutShard};
use super::limiter::{RateLimit, TokenBucket};
use super::messages::*;
use crate::clock::Clock;
use crate::ids::{ListingId, RoomId, UserId};
use crate::inventory::{InventoryActor, Retire, SetRoomStatus};
use crate::room::RoomStatus;
use crate::session::frames::RoomPlayback;
use crate::session::{CloseCode, LatestKey, ListingInfo, Policy, ServerFrame, SessionId, SharedOutbox, Viewer};
use crate::snapshot::{RoomSnapshot, SnapshotStore};
use actix::prelude::*;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// At most one snapshot write per room per this interval, and only when something changed.
const SNAPSHOT_EVERY: Duration = Duration::from_secs(1);

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
    pub status: RoomStatus,
    pub pinned_listing_id: Option<ListingId>,
    pub muted: HashSet<UserId>,
    /// Identifies this incarnation's chat ring (see [`ChatRing`]), unless a snapshot restores one.
    pub epoch: u64,
    /// The previous incarnation's chat and likes, when a snapshot was kept.
    pub restored: Option<RoomSnapshot>,
    pub title: String,
    pub playback: RoomPlayback,
}

pub(super) struct Member {
    pub(super) viewer: Viewer,
    pub(super) outbox: Arc<SharedOutbox>,
    pub(super) shard: usize,
}

pub struct RoomActor {
    pub(super) room_id: RoomId,
    /// For the welcome: what the room is called and where its stream plays.
    pub(super) title: String,
    pub(super) playback: RoomPlayback,
    pub(super) status: RoomStatus,
    pub(super) pinned_listing_id: Option<ListingId>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) config: RoomConfig,
    pub(super) listings: Vec<ListingId>,
    pub(super) info: HashMap<ListingId, ListingInfo>,
    pub(super) inventories: HashMap<ListingId, Addr<InventoryActor>>,
    pub(super) shards: Vec<Addr<FanoutShard>>,
    pub(super) next_shard: usize,
    pub(super) members: HashMap<SessionId, Member>,
    /// Connections per user: the viewer count is the number of distinct users.
    pub(super) connections: HashMap<UserId, u32>,
    pub(super) likes: u64,
    pub(super) chat: ChatRing,
    pub(super) muted: HashSet<UserId>,
    pub(super) chat_buckets: HashMap<UserId, TokenBucket>,
    pub(super) dirty_stock: HashSet<ListingId>,
    pub(super) likes_dirty: bool,
    pub(super) viewers_dirty: bool,
    /// Listings whose `sale_open` went out.
    pub(super) announced_open: HashSet<ListingId>,
    /// Listings whose `sale_ended` went out.
    pub(super) announced_ended: HashSet<ListingId>,
    pub(super) snapshots: Arc<dyn SnapshotStore>,
    /// Chat or likes changed since the last snapshot.
    pub(super) snapshot_dirty: bool,
    /// The snapshot store's generation at the last write: when the store loses its data, the
    /// room writes its snapshot again even if nothing changed.
    pub(super) snapshot_generation: u64,
}

impl RoomActor {
    pub fn new(
        init: RoomInit,
        shards: Vec<Addr<FanoutShard>>,
        clock: Arc<dyn Clock>,
        config: RoomConfig,
        snapshots: Arc<dyn SnapshotStore>,
    ) -> Self {
        let (likes, chat) = match init.restored {
            Some(snapshot) => (snapshot.likes, ChatRing::restore(snapshot.chat, config.chat_capacity)),
            None => (0, ChatRing::new(init.epoch, config.chat_capacity)),
        };
        Self {
            room_id: init.room_id,
            title: init.title,
            playback: init.playback,
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
            likes,
            chat,
            muted: init.muted,
            chat_buckets: HashMap::new(),
            dirty_stock: HashSet::new(),
            likes_dirty: false,
            viewers_dirty: false,
            announced_open: HashSet::new(),
            announced_ended: HashSet::new(),
            snapshot_generation: snapshots.generation(),
            snapshots,
            snapshot_dirty: false,
        }
    }

    /// What the next incarnation resumes from.
    fn snapshot(&self) -> RoomSnapshot {
        RoomSnapshot {
            likes: self.likes,
            chat: self.chat.snapshot(),
        }
    }

    /// Writes the snapshot if something changed, in the background; a failed write is counted
    /// and tried again on the next tick.
    fn persist(&mut self, ctx: &mut Context<Self>) {
        let generation = self.snapshots.generation();
        if generation != self.snapshot_generation {
            self.snapshot_generation = generation;
            self.snapshot_dirty = true;
        }
        if !std::mem::take(&mut self.snapshot_dirty) {
            return;
        }
        let save = self.snapshots.save_room(self.room_id, self.snapshot());
        ctx.spawn(save.into_actor(self).map(|saved, act, _ctx| match saved {
            Ok(()) => metrics::counter!("livecart_snapshots_written_total").increment(1),
            Err(err) => {
                metrics::counter!("livecart_snapshots_failed_total").increment(1);
                tracing::debug!(room.id = %act.room_id, error = %err, "room snapshot skipped; will retry");
                act.snapshot_dirty = true;
            }
        }));
    }

    pub(super) fn broadcast(&self, frame: &ServerFrame, policy: Policy) {
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
    /// inside the listing's window, and `sale_ended` once when the window has closed.
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
        let ending: Vec<ListingId> = self
            .listings
            .iter()
            .filter(|id| !self.announced_ended.contains(*id))
            .filter(|id| self.info.get(*id).and_then(|l| l.ends_at).is_some_and(|e| e <= now))
            .copied()
            .collect();
        for listing_id in ending {
            self.announced_ended.insert(listing_id);
            self.broadcast(&ServerFrame::SaleEnded { listing_id }, Policy::MustDeliver);
        }
    }
}

impl Actor for RoomActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Sessions use try_send for chat and likes; a deep mailbox absorbs a burst.
        ctx.set_mailbox_capacity(8192);
        ctx.run_interval(self.config.flush_every, |act, _ctx| act.flush());
        ctx.run_interval(SNAPSHOT_EVERY, |act, ctx| act.persist(ctx));
    }
}

impl Handler<ChangeStatus> for RoomActor {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, msg: ChangeStatus, _ctx: &mut Self::Context) -> Self::Result {
        self.status = msg.status;
        // `send`, not `try_send`: a status change must reach every listing, whatever its mailbox
        // holds; the answer comes once each has applied it.
        let applied: Vec<_> = self
            .inventories
            .values()
            .map(|inventory| inventory.send(SetRoomStatus { status: msg.status }))
            .collect();
        self.broadcast(
            &ServerFrame::LiveStatus {
                status: msg.status.as_str(),
            },
            Policy::MustDeliver,
        );
        self.announce_open_sales();
        Box::pin(async move {
            // A listing whose actor has stopped sells nothing, which is what a status change wants.
            let _ = futures_util::future::join_all(applied).await;
        })
    }
}

impl Handler<Persist> for RoomActor {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _msg: Persist, _ctx: &mut Self::Context) -> Self::Result {
        let save = self.snapshots.save_room(self.room_id, self.snapshot());
        let room_id = self.room_id;
        Box::pin(async move {
            if let Err(err) = save.await {
                metrics::counter!("livecart_snapshots_failed_total").increment(1);
                tracing::warn!(room.id = %room_id, error = %err, "room snapshot not written before the room stopped");
            }
        })
    }
}

impl Handler<Occupancy> for RoomActor {
    type Result = usize;

    fn handle(&mut self, _msg: Occupancy, _ctx: &mut Self::Context) -> usize {
        self.members.len()
    }
}

impl Handler<GoAway> for RoomActor {
    type Result = ();

    fn handle(&mut self, _msg: GoAway, _ctx: &mut Self::Context) {
        for member in self.members.values() {
            member
                .outbox
                .close(CloseCode::GoingAway, "the server is restarting: reconnect to resume");
        }
    }
}

impl Handler<RetireRoom> for RoomActor {
    type Result = ();

    fn handle(&mut self, _msg: RetireRoom, ctx: &mut Self::Context) {
        for member in self.members.values() {
            member
                .outbox
                .close(CloseCode::GoingAway, "the room moved: reconnect to resume");
        }
        for inventory in self.inventories.values() {
            inventory.do_send(Retire);
        }
        ctx.stop();
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
        self.pinned_listing_id = msg.listing_id;
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
            status: self.status,
            pinned_listing_id: self.pinned_listing_id,
            viewer_count: self.connections.len() as u64,
            like_count: self.likes,
            listings,
        })
    }
}
