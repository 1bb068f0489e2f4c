//! JWT authentication: HS256 tokens with `sub`, `role` and `exp`, checked before any handler
//! runs. Tokens are never logged.

use super::error::ApiError;
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

/// Signs and verifies tokens with the configured secret.
pub struct TokenKeys {
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
        validation.leeway = 5;
        Ok(Self {
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
        let data = decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| AppError::Unauthorized("the token is invalid or expired"))?;
        Ok(Caller {
            user_id: data.claims.sub,
            role: data.claims.role,
        })
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
