//! A live room's lifecycle: scheduled → live → ended, never backwards.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomStatus {
    Scheduled,
    Live,
    Ended,
}

impl RoomStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RoomStatus::Scheduled => "scheduled",
            RoomStatus::Live => "live",
            RoomStatus::Ended => "ended",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "scheduled" => RoomStatus::Scheduled,
            "live" => RoomStatus::Live,
            "ended" => RoomStatus::Ended,
            _ => return None,
        })
    }

    /// Whether a room may move from `self` to `next`: forward only. A scheduled show may be
    /// called off (ended) without ever going live.
    pub fn can_become(self, next: RoomStatus) -> bool {
        matches!(
            (self, next),
            (RoomStatus::Scheduled, RoomStatus::Live)
                | (RoomStatus::Scheduled, RoomStatus::Ended)
                | (RoomStatus::Live, RoomStatus::Ended)
        )
    }
}
