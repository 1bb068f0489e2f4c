//! The session's snapshot: where the viewer's chat stands and which buys are unanswered, kept
//! through the snapshot port for the viewer's next connection to the room (a network drop, a
//! reloaded page, a restarted server). Written behind, like the room's and the listings': when
//! the session ends, which covers a drop and a graceful restart exactly, and on the heartbeat
//! when the chat or the buys moved, which bounds what a crash loses. Not at each buy: a buyer in
//! a flash sale would write once per order, and the journal already holds the order. Never on a
//! buy's path, and never the record of an order: a buy placed again with its `request_id`
//! answers with the order it made.

use super::actor::SessionActor;
use super::frames::Quantity;
use crate::ids::ListingId;
use crate::room::ChatPosition;
use crate::snapshot::{PendingBuy, SessionSnapshot, SnapshotError};
use std::time::Duration;

/// How long a connecting session waits for its snapshot before it joins without one: a slow or
/// unreachable store must not hold up the welcome.
pub(super) const LOAD_WITHIN: Duration = Duration::from_millis(300);
/// A resume point older than this is not used: the viewer has been away, not dropped.
const RESUME_WITHIN_MS: i64 = 3_600_000;
/// A buy left unanswered longer ago than this is not placed again on reconnect: the viewer
/// asked for it in another moment of the sale.
const REPLACE_WITHIN_MS: i64 = 120_000;

/// A buy sent on to the order desk and not answered yet.
#[derive(Debug, Clone)]
pub(super) struct InFlight {
    pub listing_id: ListingId,
    pub quantity: Quantity,
    pub sent_at_ms: i64,
}

/// What a session restores from its snapshot.
#[derive(Debug, Default)]
pub(super) struct Restored {
    /// The chat's `(epoch, offset)` to resume from, when the client gave none.
    pub resume: Option<(u64, u64)>,
    /// Buys to place again (each answers with the order its `request_id` made, if any).
    pub buys: Vec<PendingBuy>,
}

pub(super) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// What of a loaded snapshot is still worth using at `now_ms`.
pub(super) fn restore(snapshot: SessionSnapshot, now_ms: i64) -> Restored {
    if now_ms - snapshot.saved_at_ms > RESUME_WITHIN_MS {
        return Restored::default();
    }
    let buys = snapshot
        .buys
        .into_iter()
        .filter(|buy| now_ms - buy.sent_at_ms <= REPLACE_WITHIN_MS)
        .collect();
    Restored {
        resume: Some((snapshot.epoch, snapshot.offset)),
        buys,
    }
}

impl SessionActor {
    /// The snapshot as of now, once the session has joined (before, there is nothing to resume).
    pub(super) fn session_snapshot(&self) -> Option<SessionSnapshot> {
        let ChatPosition { epoch, offset } = self.chat_position?;
        let offset = self.outbox.chat_offset().map_or(offset, |taken| taken.max(offset));
        let buys = self
            .in_flight
            .iter()
            .filter_map(|(request_id, buy)| {
                Some(PendingBuy {
                    request_id: request_id.clone(),
                    listing_id: buy.listing_id,
                    // A buy without a whole quantity is refused at once; nothing to resume.
                    quantity: buy.quantity.whole()?,
                    sent_at_ms: buy.sent_at_ms,
                })
            })
            .collect();
        Some(SessionSnapshot {
            epoch,
            offset,
            buys,
            saved_at_ms: now_ms(),
        })
    }

    /// On the heartbeat: writes the snapshot if the chat or the buys moved since the last one,
    /// or if the store lost what it had.
    pub(super) fn save_if_moved(&mut self) {
        let moved = self.outbox.chat_offset() != self.saved.offset || self.saved.buys_changed;
        let lost = self.snapshots.generation() != self.saved.generation;
        if moved || lost {
            self.save_snapshot();
        }
    }

    /// Hands the snapshot to the store, in the background; a failure is counted, and the next
    /// change or heartbeat tries again.
    pub(super) fn save_snapshot(&mut self) {
        let Some(snapshot) = self.session_snapshot() else {
            return;
        };
        self.saved = Saved {
            offset: self.outbox.chat_offset(),
            generation: self.snapshots.generation(),
            buys_changed: false,
        };
        let saving = self.snapshots.save_session(self.room_id, self.viewer.user_id, snapshot);
        // Detached: the session may be stopping, and the write must outlive it.
        actix::spawn(async move {
            match saving.await {
                Ok(()) => metrics::counter!("livecart_snapshots_written_total").increment(1),
                Err(SnapshotError(err)) => {
                    metrics::counter!("livecart_snapshots_failed_total").increment(1);
                    tracing::debug!(error = %err, "session snapshot skipped");
                }
            }
        });
    }
}

/// What the last write took, to tell whether another is needed.
#[derive(Debug, Default)]
pub(super) struct Saved {
    pub offset: Option<u64>,
    pub generation: u64,
    /// A buy started or was answered since.
    pub buys_changed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buy(request_id: &str, sent_at_ms: i64) -> PendingBuy {
        PendingBuy {
            request_id: request_id.into(),
            listing_id: ListingId::nil(),
            quantity: 1,
            sent_at_ms,
        }
    }

    #[test]
    fn a_fresh_snapshot_resumes_the_chat_and_its_recent_buys() {
        let now = 10_000_000;
        let snapshot = SessionSnapshot {
            epoch: 3,
            offset: 41,
            buys: vec![buy("recent", now - 5_000), buy("stale", now - REPLACE_WITHIN_MS - 1)],
            saved_at_ms: now - 1_000,
        };
        let restored = restore(snapshot, now);
        assert_eq!(restored.resume, Some((3, 41)));
        let ids: Vec<&str> = restored.buys.iter().map(|b| b.request_id.as_str()).collect();
        assert_eq!(ids, ["recent"], "a buy pending for minutes is not placed again");
    }

    #[test]
    fn an_old_snapshot_resumes_nothing() {
        let now = 10_000_000;
        let snapshot = SessionSnapshot {
            epoch: 3,
            offset: 41,
            buys: vec![buy("recent", now)],
            saved_at_ms: now - RESUME_WITHIN_MS - 1,
        };
        let restored = restore(snapshot, now);
        assert_eq!(restored.resume, None);
        assert!(restored.buys.is_empty());
    }
}
