//! The one way a time goes on the wire: RFC 3339 in UTC, with milliseconds and a `Z`
//! (`2026-11-30T01:02:03.456Z`). Storage keeps microseconds on PostgreSQL and whatever the clock
//! gave in memory, so without this a freshly created order would show nanoseconds and the same
//! order read back a moment later would show milliseconds. Used by every HTTP view and every
//! WebSocket frame: `#[serde(serialize_with = "livecart_actors::timestamp::millis")]`, or
//! `optional_millis` for an `Option`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

/// The wire form of `at`.
pub fn format(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Serializes a time in the wire form.
pub fn millis<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(at))
}

/// Serializes an optional time in the wire form, `None` as `null`.
pub fn optional_millis<S: Serializer>(at: &Option<DateTime<Utc>>, serializer: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => millis(at, serializer),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    #[derive(Serialize)]
    struct Times {
        #[serde(serialize_with = "millis")]
        at: DateTime<Utc>,
        #[serde(serialize_with = "optional_millis")]
        maybe: Option<DateTime<Utc>>,
        #[serde(serialize_with = "optional_millis")]
        never: Option<DateTime<Utc>>,
    }

    #[test]
    fn times_have_milliseconds_and_a_z_whatever_their_precision() {
        let nanos = DateTime::parse_from_rfc3339("2026-11-30T01:02:03.456789123+00:00")
            .expect("a valid time")
            .with_timezone(&Utc);
        let whole = DateTime::from_timestamp(1_800_000_000, 0).expect("a valid time");
        let json = serde_json::to_value(Times {
            at: nanos,
            maybe: Some(whole),
            never: None,
        })
        .expect("serializes");
        assert_eq!(json["at"], "2026-11-30T01:02:03.456Z");
        assert_eq!(json["maybe"], "2027-01-15T08:00:00.000Z");
        assert!(json["never"].is_null());
    }
}
