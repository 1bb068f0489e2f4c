//! `/v1/rooms`: create, read, go live, end.

use super::Svc;
use crate::application::change_room_status::{end_live, start_live};
use crate::application::create_room::{create_room, NewRoom};
use crate::application::get_room::get_room;
use crate::application::views::RoomView;
use crate::gateway::auth::{Authenticated, MaybeAuthenticated};
use crate::gateway::error::{ApiError, ErrorBody};
use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRoomBody {
    title: String,
    scheduled_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct StatusResponse {
    /// `live` or `ended`.
    status: &'static str,
}

#[utoipa::path(post, path = "/v1/rooms", tag = "rooms", request_body = CreateRoomBody, security(("bearer" = [])),
    responses((status = 201, body = RoomView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/v1/rooms")]
pub async fn create(svc: Svc, auth: Authenticated, body: web::Json<CreateRoomBody>) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let room = create_room(
        &svc,
        &auth.0,
        NewRoom {
            title: body.title,
            scheduled_at: body.scheduled_at,
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(room))
}

#[utoipa::path(get, path = "/v1/rooms/{room_id}", tag = "rooms", security((), ("bearer" = [])), responses((status = 200, body = RoomView), (status = 404, body = ErrorBody)))]
#[get("/v1/rooms/{room_id}")]
pub async fn show(svc: Svc, auth: MaybeAuthenticated, path: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let room = get_room(&svc, auth.0.as_ref(), path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(room))
}

#[utoipa::path(post, path = "/v1/rooms/{room_id}/start", tag = "rooms", security(("bearer" = [])),
    responses((status = 200, body = StatusResponse), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[post("/v1/rooms/{room_id}/start")]
pub async fn start(svc: Svc, auth: Authenticated, path: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let status = start_live(&svc, &auth.0, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(StatusResponse {
        status: status.as_str(),
    }))
}

#[utoipa::path(post, path = "/v1/rooms/{room_id}/end", tag = "rooms", security(("bearer" = [])),
    responses((status = 200, body = StatusResponse), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[post("/v1/rooms/{room_id}/end")]
pub async fn end(svc: Svc, auth: Authenticated, path: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let status = end_live(&svc, &auth.0, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(StatusResponse {
        status: status.as_str(),
    }))
}
