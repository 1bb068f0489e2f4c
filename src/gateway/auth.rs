//! JWT authentication: HS256 tokens with `sub`, `role` and `exp`, checked before any handler
//! runs. Tokens are never logged.

use super::error::ApiError;
use super::verified_tokens::{self, Verified};
use crate::application::{AppError, Caller};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use chrono::Utc;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use livecart_actors::{Role, UserId};
use serde::{Deserialize, Serialize};
use std::future::{ready, Ready};

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: UserId,
    role: Role,
    exp: i64,
    iat: i64,
}

/// Seconds a token is still taken after its `exp`, for clocks a little apart.
const LEEWAY_S: i64 = 5;

/// Signs and verifies tokens with the configured secret.
pub struct TokenKeys {
    /// Names these keys in the thread's verified tokens.
    id: u64,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl_s: i64,
}

impl TokenKeys {
    pub fn new(secret: &str, ttl_s: i64) -> anyhow::Result<Self> {
        if secret.len() < 16 {
            anyhow::bail!("the JWT secret must be at least 16 bytes");
        }
        let mut validation = Validation::new(Algorithm::HS256);
        // `exp` must be there (the default required claim), but is checked by `verify_at`, the
        // same way for a token verified now and for one verified earlier on this thread.
        validation.validate_exp = false;
        Ok(Self {
            id: verified_tokens::new_keys_id(),
            encoding: EncodingKey::from_secret(secret.as_bytes())?,
            decoding: DecodingKey::from_secret(secret.as_bytes())?,
            validation,
            ttl_s,
        })
    }

    pub fn issue(&self, user_id: UserId, role: Role) -> Result<String, AppError> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user_id,
            role,
            iat: now,
            exp: now + self.ttl_s,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("signing a token failed: {e}")))
    }

    pub fn verify(&self, token: &str) -> Result<Caller, AppError> {
        self.verify_at(token, Utc::now().timestamp())
    }

    /// `verify` at `now` (seconds since the epoch). The signature is checked once per token and
    /// thread (see `verified_tokens`); the expiry every time.
    fn verify_at(&self, token: &str, now: i64) -> Result<Caller, AppError> {
        let refused = || AppError::Unauthorized("the token is invalid or expired");
        let said = match verified_tokens::lookup(self.id, token) {
            Some(said) => said,
            None => {
                let claims = decode::<Claims>(token, &self.decoding, &self.validation)
                    .map_err(|_| refused())?
                    .claims;
                let said = Verified {
                    caller: Caller {
                        user_id: claims.sub,
                        role: claims.role,
                    },
                    expires: claims.exp,
                };
                verified_tokens::remember(self.id, token, said);
                said
            }
        };
        if now > said.expires.saturating_add(LEEWAY_S) {
            return Err(refused());
        }
        Ok(said.caller)
    }
}

/// The caller, from `Authorization: Bearer <JWT>`; 401 without a valid one.
pub struct Authenticated(pub Caller);

/// The caller if a token is sent (it must then be valid), `None` for an anonymous request.
pub struct MaybeAuthenticated(pub Option<Caller>);

fn bearer(req: &HttpRequest) -> Result<Option<&str>, AppError> {
    let Some(header) = req.headers().get(actix_web::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = header
        .to_str()
        .map_err(|_| AppError::Unauthorized("malformed Authorization header"))?;
    match value.strip_prefix("Bearer ") {
        Some(token) if !token.trim().is_empty() => Ok(Some(token.trim())),
        _ => Err(AppError::Unauthorized("expected 'Authorization: Bearer <token>'")),
    }
}

fn caller(req: &HttpRequest, token: &str) -> Result<Caller, AppError> {
    let keys = req
        .app_data::<web::Data<TokenKeys>>()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("token keys are not configured")))?;
    keys.verify(token)
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let result = bearer(req)
            .and_then(|t| t.ok_or(AppError::Unauthorized("a bearer token is required")))
            .and_then(|t| caller(req, t));
        ready(result.map(Authenticated).map_err(ApiError::from))
    }
}

impl FromRequest for MaybeAuthenticated {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let result = bearer(req).and_then(|t| t.map(|t| caller(req, t)).transpose());
        ready(result.map(MaybeAuthenticated).map_err(ApiError::from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livecart_actors::ids::new_id;

    const SECRET: &str = "a test secret of enough bytes";

    fn token(keys: &TokenKeys, user_id: UserId) -> String {
        keys.issue(user_id, Role::Viewer).expect("signed")
    }

    #[test]
    fn a_token_verified_before_answers_the_same_and_still_expires() {
        let keys = TokenKeys::new(SECRET, 60).expect("keys");
        let buyer = new_id();
        let token = token(&keys, buyer);
        let now = Utc::now().timestamp();
        for _ in 0..2 {
            let caller = keys.verify_at(&token, now).expect("valid");
            assert_eq!((caller.user_id, caller.role), (buyer, Role::Viewer));
        }
        assert!(keys.verify_at(&token, now + 60 + LEEWAY_S).is_ok(), "within the leeway");
        assert!(
            keys.verify_at(&token, now + 60 + LEEWAY_S + 2).is_err(),
            "expired, though verified on this thread before"
        );
    }

    #[test]
    fn a_token_is_taken_only_by_the_keys_that_signed_it_and_only_as_sent() {
        let keys = TokenKeys::new(SECRET, 60).expect("keys");
        let other = TokenKeys::new("another secret of enough bytes", 60).expect("keys");
        let token = token(&keys, new_id());
        assert!(keys.verify(&token).is_ok());
        assert!(
            other.verify(&token).is_err(),
            "verified here by other keys, refused by these"
        );
        let same_secret = TokenKeys::new(SECRET, 60).expect("keys");
        assert!(same_secret.verify(&token).is_ok(), "checked again, and good");

        let (head, signature) = token.rsplit_once('.').expect("three parts");
        let mut forged = signature.as_bytes().to_vec();
        forged[0] = if forged[0] == b'A' { b'B' } else { b'A' };
        let forged = format!("{head}.{}", String::from_utf8(forged).expect("base64 text"));
        assert!(keys.verify(&forged).is_err(), "another signature is another token");
        assert!(
            keys.verify(&format!("{token} ")).is_err(),
            "not the bytes that verified"
        );
    }

    #[test]
    fn a_token_without_an_expiry_is_refused() {
        let keys = TokenKeys::new(SECRET, 60).expect("keys");
        #[derive(Serialize)]
        struct NoExp {
            sub: UserId,
            role: Role,
            iat: i64,
        }
        let claims = NoExp {
            sub: new_id(),
            role: Role::Viewer,
            iat: 0,
        };
        let token = encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET.as_bytes()).expect("a key"),
        )
        .expect("signed");
        assert!(keys.verify(&token).is_err());
    }
}
