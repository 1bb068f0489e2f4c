//! `/v1/auth/*`: register, login, guest.

use super::Svc;
use crate::application::identity::{guest::guest, login::login, register::register, register::Registration};
use crate::gateway::auth::TokenKeys;
use crate::gateway::error::{ApiError, ErrorBody};
use crate::gateway::limits::Limits;
use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    username: String,
    password: String,
    /// `merchant` or `viewer`.
    role: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    username: String,
    password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GuestBody {
    nickname: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    user_id: Uuid,
    token: String,
}

#[utoipa::path(post, path = "/v1/auth/register", tag = "identity", request_body = RegisterBody,
    responses((status = 201, body = TokenResponse), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody),
        (status = 503, body = ErrorBody, description = "too many passwords being hashed; see Retry-After")))]
#[post("/v1/auth/register")]
pub async fn register_user(
    svc: Svc,
    keys: web::Data<TokenKeys>,
    limits: web::Data<Limits>,
    req: HttpRequest,
    body: web::Json<RegisterBody>,
) -> Result<HttpResponse, ApiError> {
    limits.check_auth(&req)?;
    let body = body.into_inner();
    let input = Registration {
        username: body.username,
        password: body.password,
        role: body.role,
    };
    let user = register(&svc, input).await?;
    let token = keys.issue(user.id, user.role)?;
    Ok(HttpResponse::Created().json(TokenResponse {
        user_id: user.id,
        token,
    }))
}

#[utoipa::path(post, path = "/v1/auth/login", tag = "identity", request_body = LoginBody,
    responses((status = 200, body = TokenResponse), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody),
        (status = 503, body = ErrorBody, description = "too many passwords being hashed; see Retry-After")))]
#[post("/v1/auth/login")]
pub async fn login_user(
    svc: Svc,
    keys: web::Data<TokenKeys>,
    limits: web::Data<Limits>,
    req: HttpRequest,
    body: web::Json<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    limits.check_auth(&req)?;
    let body = body.into_inner();
    let user = login(&svc, body.username, body.password).await?;
    let token = keys.issue(user.id, user.role)?;
    Ok(HttpResponse::Ok().json(TokenResponse {
        user_id: user.id,
        token,
    }))
}

#[utoipa::path(post, path = "/v1/auth/guest", tag = "identity", request_body = GuestBody,
    responses((status = 201, body = TokenResponse), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
#[post("/v1/auth/guest")]
pub async fn guest_user(
    svc: Svc,
    keys: web::Data<TokenKeys>,
    limits: web::Data<Limits>,
    req: HttpRequest,
    body: web::Json<GuestBody>,
) -> Result<HttpResponse, ApiError> {
    limits.check_auth(&req)?;
    let user = guest(&svc, &body.nickname).await?;
    let token = keys.issue(user.id, user.role)?;
    Ok(HttpResponse::Created().json(TokenResponse {
        user_id: user.id,
        token,
    }))
}
