//! Fan-out shards: a large room's broadcasts are pushed to its viewers by one shard per arbiter,
//! so both cores share the work instead of the RoomActor doing it alone. A shard only pushes the
//! shared bytes into each session's outbox; it never waits on a client.

use crate::session::outbox::Pushed;
use crate::session::SessionId;
use crate::session::{Policy, SharedOutbox};
use actix::prelude::*;
use bytestring::ByteString;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct AddSession {
    pub session_id: SessionId,
    pub outbox: Arc<SharedOutbox>,
}

#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct RemoveSession {
    pub session_id: SessionId,
}

/// One frame for every session of the shard, serialized once by the room.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct Broadcast {
    pub frame: ByteString,
    pub policy: Policy,
}

#[derive(Default)]
pub struct FanoutShard {
    sessions: HashMap<SessionId, Arc<SharedOutbox>>,
}

impl Actor for FanoutShard {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // The room sends with do_send; a larger mailbox only matters for its bookkeeping.
        ctx.set_mailbox_capacity(4096);
    }
}

impl Handler<AddSession> for FanoutShard {
    type Result = ();

    fn handle(&mut self, msg: AddSession, _ctx: &mut Self::Context) {
        self.sessions.insert(msg.session_id, msg.outbox);
    }
}

impl Handler<RemoveSession> for FanoutShard {
    type Result = ();

    fn handle(&mut self, msg: RemoveSession, _ctx: &mut Self::Context) {
        self.sessions.remove(&msg.session_id);
    }
}

impl Handler<Broadcast> for FanoutShard {
    type Result = ();

    fn handle(&mut self, msg: Broadcast, _ctx: &mut Self::Context) {
        let (mut dropped, mut closed) = (0u64, 0u64);
        for outbox in self.sessions.values() {
            match outbox.push(msg.frame.clone(), msg.policy) {
                Pushed::Dropped => dropped += 1,
                Pushed::Closed => closed += 1,
                Pushed::Queued | Pushed::Coalesced => {}
            }
        }
        // Counted here, once per broadcast, so an overloaded fan-out shows in /metrics.
        if dropped > 0 {
            metrics::counter!("livecart_ws_frames_dropped_total").increment(dropped);
        }
        if closed > 0 {
            metrics::counter!("livecart_ws_frames_refused_total").increment(closed);
        }
    }
}
