//! The Redis Streams event bus, used when Redis is configured (the in-process bus otherwise).
//!
//! The outbox relay appends each batch of committed events to one stream ([`RedisStreamBus`]);
//! each consumer reads it through its own consumer group ([`consumer`]), acknowledges a batch
//! once its handler succeeded, and takes over what a dead consumer read but never acknowledged.
//! Delivery is at least once, so every entry carries its event's id and consumers dedupe by it.
//!
//! An entry's fields: `id` (the event id), `kind` (`order.created`, …) and `event` (the
//! [`DomainEvent`] as JSON, the same text the outbox row holds).

pub mod consumer;
mod publisher;

pub use publisher::RedisStreamBus;

use crate::settings::EventStreamSettings;
use deadpool_redis::redis::streams::StreamId;
use livecart_actors::events::DomainEvent;
use std::collections::HashSet;
use std::time::Duration;

/// Where events go and how consumers read them, from `[redis.events]`.
#[derive(Debug, Clone)]
pub struct EventStream {
    pub key: String,
    pub max_len: usize,
    pub read_batch: usize,
    pub read_block: Duration,
    pub claim_min_idle: Duration,
}

impl From<&EventStreamSettings> for EventStream {
    fn from(s: &EventStreamSettings) -> Self {
        Self {
            key: s.stream.clone(),
            max_len: s.max_len.max(1),
            read_batch: s.read_batch.max(1),
            read_block: Duration::from_millis(s.read_block_ms.max(1)),
            claim_min_idle: Duration::from_millis(s.claim_min_idle_ms.max(1)),
        }
    }
}

/// The entry fields of one event: `id`, `kind`, `event`.
fn fields(event: &DomainEvent) -> [(&'static str, String); 3] {
    [
        ("id", event.id.to_string()),
        ("kind", event.kind().to_owned()),
        // unwrap: a DomainEvent is plain data (ids, numbers, strings) and always serializes.
        ("event", serde_json::to_string(event).unwrap()),
    ]
}

/// A batch read from the stream, ready for a handler.
#[derive(Debug, Default)]
struct Decoded {
    /// Every entry id read, to acknowledge once the batch is handled.
    entry_ids: Vec<String>,
    /// The events, in stream order, each event id once: the same event may sit in the stream
    /// twice (a batch published again after its answer was lost).
    events: Vec<DomainEvent>,
    /// Entries that hold no readable event: acknowledged and counted, never retried, because
    /// retrying cannot make them readable and would stall every entry behind them.
    undecodable: Vec<String>,
    /// Pending entries the stream no longer holds (trimmed by `MAXLEN` before they were handled):
    /// their events are lost for this consumer, which is worth an error in the logs.
    trimmed: Vec<String>,
}

fn decode(entries: &[StreamId]) -> Decoded {
    let mut decoded = Decoded::default();
    let mut seen = HashSet::new();
    for entry in entries {
        decoded.entry_ids.push(entry.id.clone());
        if entry.map.is_empty() {
            decoded.trimmed.push(entry.id.clone());
            continue;
        }
        let event = entry
            .get::<String>("event")
            .and_then(|json| serde_json::from_str::<DomainEvent>(&json).ok())
            // The `id` field is what non-Rust consumers dedupe by; it must say the same.
            .filter(|event| entry.get::<String>("id").is_some_and(|id| id == event.id.to_string()));
        match event {
            Some(event) if seen.insert(event.id) => decoded.events.push(event),
            Some(_) => {}
            None => decoded.undecodable.push(entry.id.clone()),
        }
    }
    decoded
}

#[cfg(test)]
mod tests {
    use super::*;
    use deadpool_redis::redis::Value;
    use livecart_actors::events::EventPayload;
    use livecart_actors::ids::new_id;

    fn entry(stream_id: &str, fields: &[(&str, String)]) -> StreamId {
        StreamId {
            id: stream_id.to_owned(),
            map: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Value::BulkString(v.clone().into_bytes())))
                .collect(),
            ..StreamId::default()
        }
    }

    fn event() -> DomainEvent {
        DomainEvent::new(chrono::Utc::now(), EventPayload::LiveStarted { room_id: new_id() })
    }

    #[test]
    fn an_entry_reads_back_as_the_event_it_was_written_from() {
        let sent = event();
        let decoded = decode(&[entry("1-0", &fields(&sent))]);
        assert_eq!(decoded.events, vec![sent]);
        assert_eq!(decoded.entry_ids, vec!["1-0"]);
        assert!(decoded.undecodable.is_empty());
    }

    #[test]
    fn an_event_twice_in_a_batch_is_handed_on_once_and_both_entries_are_acknowledged() {
        let (a, b) = (event(), event());
        let decoded = decode(&[
            entry("1-0", &fields(&a)),
            entry("2-0", &fields(&b)),
            entry("3-0", &fields(&a)),
        ]);
        assert_eq!(decoded.events, vec![a, b]);
        assert_eq!(decoded.entry_ids, vec!["1-0", "2-0", "3-0"]);
    }

    #[test]
    fn entries_without_a_readable_event_are_set_aside() {
        let good = event();
        let [id, kind, json] = fields(&good);
        let other_id = ("id", new_id().to_string());
        let decoded = decode(&[
            entry("1-0", &[id.clone(), kind.clone()]),
            entry("2-0", &[id.clone(), ("event", "{not json".to_owned())]),
            entry("3-0", &[other_id, kind.clone(), json.clone()]),
            entry("4-0", &[id, kind, json]),
        ]);
        assert_eq!(decoded.undecodable, vec!["1-0", "2-0", "3-0"]);
        assert_eq!(decoded.events, vec![good]);
        assert_eq!(decoded.entry_ids.len(), 4);
        assert!(decoded.trimmed.is_empty());
    }

    #[test]
    fn a_pending_entry_the_stream_no_longer_holds_is_told_apart() {
        // XREADGROUP answers `[id, nil]` for a pending entry that was trimmed.
        let decoded = decode(&[entry("1-0", &[])]);
        assert_eq!(decoded.trimmed, vec!["1-0"]);
        assert!(decoded.undecodable.is_empty() && decoded.events.is_empty());
        assert_eq!(decoded.entry_ids, vec!["1-0"]);
    }
}
