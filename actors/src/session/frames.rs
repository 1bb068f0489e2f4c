//! The WebSocket protocol's frames (docs/protocol.md): text frames, one JSON object each,
//! discriminated by `type`.

use crate::ids::{ListingId, OrderId, RoomId, UserId};
use crate::order::Order;
use bytestring::ByteString;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// What a client may send.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    Chat {
        text: String,
    },
    Like {
        count: u32,
    },
    Buy {
        request_id: String,
        listing_id: ListingId,
        quantity: Quantity,
    },
    Ping,
}

/// The units a `buy` frame asks for, as the frame wrote them. Any JSON number makes a readable
/// frame: one that is not a whole number of units that fits a `u32` (a fraction, a negative,
/// `1e308`) is kept as `None` and refused by the order desk with `invalid_quantity`, exactly as
/// `POST /v1/rooms/{id}/orders` refuses it; anything but a number (`"1"`) is an unreadable frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity(Option<u32>);

impl Quantity {
    pub fn units(units: u32) -> Self {
        Self(Some(units))
    }

    /// The whole number of units asked for, if the frame gave one that fits.
    pub fn whole(self) -> Option<u32> {
        self.0
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Number;
        impl serde::de::Visitor<'_> for Number {
            type Value = Quantity;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                // The words serde_json used when this field was a `serde_json::Number`.
                f.write_str("a JSON number")
            }

            fn visit_u64<E>(self, v: u64) -> Result<Quantity, E> {
                Ok(Quantity(u32::try_from(v).ok()))
            }

            fn visit_i64<E>(self, v: i64) -> Result<Quantity, E> {
                Ok(Quantity(u32::try_from(v).ok()))
            }

            fn visit_f64<E>(self, _: f64) -> Result<Quantity, E> {
                Ok(Quantity(None))
            }
        }
        deserializer.deserialize_any(Number)
    }
}

/// The contract's error object, inside `error` and `order` frames.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FrameError {
    pub error: String,
    pub message: String,
}

impl FrameError {
    pub fn new(error: &str, message: impl Into<String>) -> Self {
        Self {
            error: error.to_owned(),
            message: message.into(),
        }
    }
}

/// A listing as viewers see it, in the welcome snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListingInfo {
    pub id: ListingId,
    pub room_id: RoomId,
    pub title: String,
    pub price_cents: i64,
    pub stock: u64,
    pub stock_left: u64,
    pub per_user_limit: u32,
    #[serde(serialize_with = "crate::timestamp::optional_millis")]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "crate::timestamp::optional_millis")]
    pub ends_at: Option<DateTime<Utc>>,
}

/// An order as the `order` frame carries it: the fields, in the order, of `GET /v1/orders/{id}`
/// (tests/api/wire_format.rs holds the two to the same JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderInfo {
    pub id: OrderId,
    pub room_id: RoomId,
    pub listing_id: ListingId,
    pub user_id: UserId,
    pub quantity: u32,
    pub unit_price_cents: i64,
    pub total_cents: i64,
    pub status: &'static str,
    #[serde(serialize_with = "crate::timestamp::millis")]
    pub expires_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::timestamp::millis")]
    pub created_at: DateTime<Utc>,
}

impl From<Order> for OrderInfo {
    fn from(o: Order) -> Self {
        Self {
            id: o.id,
            room_id: o.room_id,
            listing_id: o.listing_id,
            user_id: o.user_id,
            quantity: o.quantity,
            unit_price_cents: o.unit_price_cents,
            total_cents: o.total_cents,
            status: o.status.as_str(),
            expires_at: o.expires_at,
            created_at: o.created_at,
        }
    }
}

/// Where viewers watch the room's stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RoomPlayback {
    pub hls: String,
    pub flv: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoomSummary {
    pub id: RoomId,
    pub title: String,
    pub status: &'static str,
    /// The stream's play URLs, so a page can start the player from the welcome alone.
    pub play: RoomPlayback,
    pub pinned_listing_id: Option<ListingId>,
    pub viewer_count: u64,
    pub like_count: u64,
}

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    Welcome {
        room: RoomSummary,
        listings: Vec<ListingInfo>,
        epoch: u64,
        offset: u64,
        /// True when the missed chat after the client's `(epoch, offset)` follows.
        recovered: bool,
    },
    Chat {
        offset: u64,
        user_id: UserId,
        nickname: String,
        text: String,
        #[serde(serialize_with = "crate::timestamp::millis")]
        at: DateTime<Utc>,
    },
    /// A listing was placed into the room while the viewer was connected.
    Listing {
        listing: ListingInfo,
    },
    /// A moderator removed the chat message at `offset`.
    ChatDeleted {
        offset: u64,
    },
    Likes {
        total: u64,
    },
    Viewers {
        count: u64,
    },
    /// `null` when the merchant unpinned.
    Pinned {
        listing_id: Option<ListingId>,
    },
    Stock {
        listing_id: ListingId,
        stock_left: u64,
    },
    LiveStatus {
        status: &'static str,
    },
    SaleOpen {
        listing_id: ListingId,
    },
    /// The listing's sale window closed (its `ends_at` passed): buying it is over.
    SaleEnded {
        listing_id: ListingId,
    },
    Order {
        request_id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        order: Option<OrderInfo>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<FrameError>,
    },
    Error {
        error: String,
        message: String,
        /// The type of the client frame that was refused (`chat`, `like`), so a client knows
        /// what to retry; absent when the frame could not be read at all.
        #[serde(skip_serializing_if = "Option::is_none")]
        frame: Option<&'static str>,
    },
    Pong,
}

impl ServerFrame {
    /// Serializes once; the bytes are then shared by every viewer it goes to.
    pub fn encode(&self) -> ByteString {
        // unwrap: every field is a plain string, number, id or time, which always serialize.
        ByteString::from(serde_json::to_string(self).unwrap())
    }

    pub fn error(code: &str, message: impl Into<String>) -> Self {
        ServerFrame::Error {
            error: code.to_owned(),
            message: message.into(),
            frame: None,
        }
    }

    /// An error about one client frame of type `frame`.
    pub fn refused(frame: &'static str, code: &str, message: impl Into<String>) -> Self {
        ServerFrame::Error {
            error: code.to_owned(),
            message: message.into(),
            frame: Some(frame),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_frames_parse_by_type() {
        let chat: ClientFrame = serde_json::from_str(r#"{"type":"chat","text":"hi"}"#).expect("chat");
        assert_eq!(chat, ClientFrame::Chat { text: "hi".into() });
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"dance"}"#).is_err());
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"like","count":"many"}"#).is_err());
    }

    #[test]
    fn any_number_is_a_quantity_and_only_a_whole_u32_has_units() {
        let quantity = |n: &str| {
            let frame = format!(
                r#"{{"type":"buy","request_id":"r","listing_id":"{}","quantity":{n}}}"#,
                ListingId::nil()
            );
            match serde_json::from_str::<ClientFrame>(&frame) {
                Ok(ClientFrame::Buy { quantity, .. }) => Ok(quantity.whole()),
                Ok(other) => panic!("{other:?}"),
                Err(e) => Err(e.to_string()),
            }
        };
        assert_eq!(quantity("1"), Ok(Some(1)));
        assert_eq!(quantity("0"), Ok(Some(0)), "the desk's range check refuses it");
        assert_eq!(quantity("4294967295"), Ok(Some(u32::MAX)));
        for absurd in [
            "4294967296",
            "-1",
            "1.5",
            "1.0",
            "1e308",
            "18446744073709551616",
            "-9223372036854775809",
        ] {
            assert_eq!(quantity(absurd), Ok(None), "{absurd}");
        }
        let refused = quantity(r#""1""#).expect_err("a string is not a number");
        assert!(
            refused.starts_with(r#"invalid type: string "1", expected a JSON number"#),
            "{refused}"
        );
    }

    #[test]
    fn server_frames_carry_their_type() {
        let text = ServerFrame::Stock {
            listing_id: ListingId::nil(),
            stock_left: 3,
        }
        .encode();
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["type"], "stock");
        assert_eq!(v["stock_left"], 3);
        let pong: serde_json::Value = serde_json::from_str(&ServerFrame::Pong.encode()).expect("json");
        assert_eq!(pong, serde_json::json!({"type": "pong"}));
    }
}
