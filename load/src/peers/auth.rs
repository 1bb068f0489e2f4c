//! Buyers' tokens for the peers: HS256 JWTs like livecart's, signed with a secret made at start,
//! verified on every order, so the peers pay for authentication as livecart does.

use actix_web::HttpRequest;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    role: String,
    exp: u64,
}

pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl Keys {
    pub fn random() -> anyhow::Result<Keys> {
        let secret = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        Ok(Keys {
            encoding: EncodingKey::from_secret(secret.as_bytes())?,
            decoding: DecodingKey::from_secret(secret.as_bytes())?,
            validation: Validation::new(Algorithm::HS256),
        })
    }

    /// A day-long viewer token for `user`.
    pub fn sign(&self, user: &str) -> String {
        let exp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            + 86_400;
        let claims = Claims {
            sub: user.to_owned(),
            role: "viewer".into(),
            exp,
        };
        // HS256 over a small struct cannot fail to encode.
        encode(&Header::default(), &claims, &self.encoding).unwrap_or_default()
    }

    /// The user a request's valid Bearer token speaks for.
    pub fn user_of(&self, request: &HttpRequest) -> Option<String> {
        let header = request.headers().get("authorization")?.to_str().ok()?;
        let token = header.strip_prefix("Bearer ")?;
        decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|t| t.claims.sub)
    }
}
