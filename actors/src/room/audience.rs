//! The RoomActor's audience: sessions joining and leaving (with the welcome and the chat replay),
//! chat with its mutes and per-user rate, likes, and moderation. Split from `actor.rs`, which
//! keeps the room's lifecycle, listings and fan-out.

use super::actor::{Member, RoomActor};
use super::fanout::{AddSession, RemoveSession};
use super::limiter::TokenBucket;
use super::messages::*;
use crate::session::frames::RoomSummary;
use crate::session::{Policy, ServerFrame};
use actix::prelude::*;
use std::time::Instant;

impl RoomActor {
    /// The snapshot a joining session gets first, and the chat it missed if it can be replayed.
    /// The missed chat comes with each message's offset.
    fn welcome(&self, resume: Option<(u64, u64)>) -> (ServerFrame, Vec<(u64, ServerFrame)>) {
        let missed = resume.and_then(|(epoch, offset)| self.chat.since(epoch, offset));
        let recovered = missed.is_some();
        let welcome = ServerFrame::Welcome {
            room: RoomSummary {
                id: self.room_id,
                title: self.title.clone(),
                status: self.status.as_str(),
                play: self.playback.clone(),
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
            .map(|m| {
                let frame = ServerFrame::Chat {
                    offset: m.offset,
                    user_id: m.user_id,
                    nickname: m.nickname,
                    text: m.text,
                    at: m.at,
                };
                (m.offset, frame)
            })
            .collect();
        (welcome, replay)
    }
}

impl Handler<Join> for RoomActor {
    type Result = ChatPosition;

    fn handle(&mut self, msg: Join, _ctx: &mut Self::Context) -> ChatPosition {
        let count = self.connections.entry(msg.viewer.user_id).or_insert(0);
        *count += 1;
        if *count == 1 {
            self.viewers_dirty = true;
        }
        let (welcome, replay) = self.welcome(msg.resume);
        msg.outbox.push(welcome.encode(), Policy::MustDeliver);
        for (offset, chat) in replay {
            msg.outbox.push(chat.encode(), Policy::Replayed(offset));
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
        ChatPosition {
            epoch: self.chat.epoch(),
            offset: self.chat.last_offset(),
        }
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
            let frame = ServerFrame::refused("chat", "muted", "you are muted in this room");
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
                let frame = ServerFrame::refused("chat", "rate_limited", "slow down: too many chat messages");
                member.outbox.push(frame.encode(), Policy::MustDeliver);
                return;
            }
        }
        let nickname = member.viewer.nickname.clone();
        let message = self.chat.append(user_id, nickname, msg.text, self.clock.now());
        self.snapshot_dirty = true;
        let offset = message.offset;
        let frame = ServerFrame::Chat {
            offset,
            user_id,
            nickname: message.nickname.clone(),
            text: message.text.clone(),
            at: message.at,
        };
        self.broadcast(&frame, Policy::Chat(offset));
    }
}

impl Handler<AddLikes> for RoomActor {
    type Result = ();

    fn handle(&mut self, msg: AddLikes, _ctx: &mut Self::Context) {
        self.likes += u64::from(msg.count);
        self.likes_dirty = true;
        self.snapshot_dirty = true;
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
            self.snapshot_dirty = true;
            self.broadcast(&ServerFrame::ChatDeleted { offset: msg.offset }, Policy::MustDeliver);
        }
        deleted
    }
}
