//! Client frames off the wire, parsed into what the SessionActor understands.

use actix_ws::{AggregatedMessage, ProtocolError};
use livecart_actors::session::{ClientFrame, Inbound};

pub fn parse(message: Result<AggregatedMessage, ProtocolError>) -> Inbound {
    match message {
        Ok(AggregatedMessage::Text(text)) => match serde_json::from_str::<ClientFrame>(&text) {
            Ok(frame) => Inbound::Frame(frame),
            Err(e) => Inbound::Invalid(format!("not a valid frame: {e}")),
        },
        Ok(AggregatedMessage::Binary(_)) => Inbound::Invalid("binary frames are not supported; send JSON text".into()),
        Ok(AggregatedMessage::Ping(payload)) => Inbound::Ping(payload.to_vec()),
        Ok(AggregatedMessage::Pong(_)) => Inbound::Heard,
        Ok(AggregatedMessage::Close(_)) => Inbound::Closed,
        Err(ProtocolError::Overflow) => Inbound::TooBig,
        Err(e) => {
            tracing::debug!(error = %e, "websocket protocol error");
            Inbound::Closed
        }
    }
}
