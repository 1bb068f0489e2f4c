//! Webhook signatures in the style of Stripe's: the header `Livecart-Signature: t=<unix
//! seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. Signing the timestamp with the body lets the
//! receiver refuse a replay of an old call (the tolerance); the comparison is constant-time, so
//! the time a refusal takes says nothing about how much of a forged signature was right.

use crate::application::payment_provider::WebhookError;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::Duration;

/// The header the signature travels in.
pub const HEADER: &str = "Livecart-Signature";

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    // unwrap: HMAC takes a key of any length.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value for `body` sent at `at`.
pub fn sign(secret: &str, at: DateTime<Utc>, body: &[u8]) -> String {
    let timestamp = at.timestamp();
    let signature = hex::encode(mac(secret, timestamp, body).finalize().into_bytes());
    format!("t={timestamp},v1={signature}")
}

/// Checks `header` against `body`: a `v1` signature made with `secret` over its timestamp, and
/// the timestamp within `tolerance` of `now`. Several `v1` values may be present (a secret being
/// rotated); one matching is enough.
pub fn verify(
    secret: &str,
    header: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<(), WebhookError> {
    let header = header.ok_or(WebhookError::Unsigned)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.extend(hex::decode(v).ok()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(WebhookError::BadSignature)?;
    if signatures.is_empty() {
        return Err(WebhookError::BadSignature);
    }
    let signed = signatures
        .iter()
        .any(|candidate| mac(secret, timestamp, body).verify_slice(candidate).is_ok());
    if !signed {
        return Err(WebhookError::BadSignature);
    }
    if now.timestamp().abs_diff(timestamp) > tolerance.as_secs() {
        return Err(WebhookError::Stale);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";
    const TOLERANCE: Duration = Duration::from_secs(300);

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).expect("valid")
    }

    #[test]
    fn a_signed_body_verifies_and_any_change_does_not() {
        let body = br#"{"id":"evt_1"}"#;
        let header = sign(SECRET, at(1_800_000_000), body);
        assert_eq!(
            verify(SECRET, Some(&header), body, at(1_800_000_010), TOLERANCE),
            Ok(())
        );
        let tampered = br#"{"id":"evt_2"}"#;
        assert_eq!(
            verify(SECRET, Some(&header), tampered, at(1_800_000_010), TOLERANCE),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            verify("another-secret", Some(&header), body, at(1_800_000_010), TOLERANCE),
            Err(WebhookError::BadSignature)
        );
        let moved = header.replace("t=1800000000", "t=1800000001");
        assert_eq!(
            verify(SECRET, Some(&moved), body, at(1_800_000_010), TOLERANCE),
            Err(WebhookError::BadSignature),
            "the timestamp is signed too"
        );
    }

    #[test]
    fn the_signature_matches_an_independent_hmac_sha256() {
        // Computed with Python: hmac.new(b"whsec_test_secret", b"1800000000.{}", hashlib.sha256).hexdigest()
        let header = sign(SECRET, at(1_800_000_000), b"{}");
        assert_eq!(
            header, "t=1800000000,v1=c54fd4ffd4dd216571ba5d99b08a3cf927757e386c311b181f85788c2178e368",
            "see the comment for how to recompute"
        );
    }

    #[test]
    fn stale_missing_and_garbled_signatures_are_refused() {
        let body = b"{}";
        let header = sign(SECRET, at(1_800_000_000), body);
        assert_eq!(
            verify(SECRET, Some(&header), body, at(1_800_000_301), TOLERANCE),
            Err(WebhookError::Stale)
        );
        assert_eq!(
            verify(SECRET, None, body, at(1_800_000_000), TOLERANCE),
            Err(WebhookError::Unsigned)
        );
        for garbled in ["", "t=1800000000", "v1=00", "t=x,v1=zz", "nonsense"] {
            assert_eq!(
                verify(SECRET, Some(garbled), body, at(1_800_000_000), TOLERANCE),
                Err(WebhookError::BadSignature),
                "{garbled:?}"
            );
        }
        let rotated = format!("{header},v1=0000");
        assert_eq!(
            verify(SECRET, Some(&rotated), body, at(1_800_000_000), TOLERANCE),
            Ok(())
        );
    }
}
