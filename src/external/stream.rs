//! Stream URLs for the CDN: a signed RTMP push URL for the merchant's encoder, and pull URLs
//! (HLS, FLV) for viewers.
//!
//! Push authentication follows the schemes the large Chinese CDNs use, so a merchant can point
//! OBS at the CDN directly and the CDN checks the signature and expiry without calling us:
//! - Tencent Cloud CSS: `txSecret = md5(key + streamName + txTime)`, `txTime` = upper-case hex
//!   of the Unix expiry.

use crate::application::ports::stream::{PlayUrls, PushTarget, StreamSigner};
use chrono::{DateTime, Utc};
use md5::{Digest, Md5};

fn md5_hex(input: &str) -> String {
    hex::encode(Md5::digest(input.as_bytes()))
}

/// Tencent Cloud CSS push authentication (`txSecret`/`txTime`).
#[derive(Debug, Clone)]
pub struct TencentSigner {
    pub push_domain: String,
    pub play_domain: String,
    pub app_name: String,
    pub key: String,
}

impl StreamSigner for TencentSigner {
    fn push(&self, stream_name: &str, expires_at: DateTime<Utc>) -> PushTarget {
        let tx_time = format!("{:X}", expires_at.timestamp());
        let tx_secret = md5_hex(&format!("{}{}{}", self.key, stream_name, tx_time));
        let stream_key = format!("{stream_name}?txSecret={tx_secret}&txTime={tx_time}");
        PushTarget {
            push_url: format!("rtmp://{}/{}/{}", self.push_domain, self.app_name, stream_key),
            stream_key,
        }
    }

    fn play(&self, stream_name: &str) -> PlayUrls {
        play_urls(&self.play_domain, &self.app_name, stream_name)
    }
}

fn play_urls(domain: &str, app: &str, stream_name: &str) -> PlayUrls {
    PlayUrls {
        hls: format!("https://{domain}/{app}/{stream_name}.m3u8"),
        flv: format!("https://{domain}/{app}/{stream_name}.flv"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors computed independently with Python's hashlib for the same inputs.
    const EXPIRY: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

    fn expiry() -> DateTime<Utc> {
        DateTime::from_timestamp(EXPIRY, 0).expect("valid")
    }

    #[test]
    fn tencent_push_url_matches_the_known_vector() {
        let signer = TencentSigner {
            push_domain: "push.example.com".into(),
            play_domain: "play.example.com".into(),
            app_name: "live".into(),
            key: "e12c46f2612d5106e2034781ab261ca3".into(),
        };
        let target = signer.push("livecart-room-1", expiry());
        assert_eq!(
            target.push_url,
            "rtmp://push.example.com/live/livecart-room-1?txSecret=44cd39db985b22c54349d3ba5b34b72c&txTime=6955B900"
        );
        assert_eq!(
            target.stream_key,
            "livecart-room-1?txSecret=44cd39db985b22c54349d3ba5b34b72c&txTime=6955B900"
        );
    }

    #[test]
    fn a_different_key_or_expiry_changes_the_signature() {
        let mut signer = TencentSigner {
            push_domain: "p".into(),
            play_domain: "q".into(),
            app_name: "live".into(),
            key: "k1".into(),
        };
        let a = signer.push("s", expiry());
        assert_ne!(a, signer.push("s", expiry() + chrono::Duration::seconds(1)));
        signer.key = "k2".into();
        assert_ne!(a, signer.push("s", expiry()));
    }

    #[test]
    fn play_urls_name_the_stream() {
        let urls = play_urls("play.example.com", "live", "abc");
        assert_eq!(urls.hls, "https://play.example.com/live/abc.m3u8");
        assert_eq!(urls.flv, "https://play.example.com/live/abc.flv");
    }
}
