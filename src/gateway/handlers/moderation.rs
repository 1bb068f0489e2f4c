//! Chat moderation for the room's merchant: mutes and message deletion.

use super::Svc;
use crate::application::moderate_chat::{delete_message, set_muted};
use crate::gateway::auth::Authenticated;
use crate::gateway::error::{ApiError, ErrorBody};
use actix_web::{delete, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MuteBody {
    user_id: Uuid,
}

#[derive(Serialize, ToSchema)]
pub struct MuteResponse {
    room_id: Uuid,
    user_id: Uuid,
    muted: bool,
}

#[derive(Serialize, ToSchema)]
pub struct DeletedResponse {
    offset: u64,
    deleted: bool,
}

#[utoipa::path(post, path = "/v1/rooms/{room_id}/mutes", tag = "moderation", request_body = MuteBody,
    security(("bearer" = [])), responses((status = 200, body = MuteResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[post("/v1/rooms/{room_id}/mutes")]
pub async fn mute(
    svc: Svc,
    auth: Authenticated,
    path: web::Path<Uuid>,
    body: web::Json<MuteBody>,
) -> Result<HttpResponse, ApiError> {
    let room_id = path.into_inner();
    set_muted(&svc, &auth.0, room_id, body.user_id, true).await?;
    Ok(HttpResponse::Ok().json(MuteResponse {
        room_id,
        user_id: body.user_id,
        muted: true,
    }))
}

#[utoipa::path(delete, path = "/v1/rooms/{room_id}/mutes/{user_id}", tag = "moderation",
    security(("bearer" = [])), responses((status = 200, body = MuteResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[delete("/v1/rooms/{room_id}/mutes/{user_id}")]
pub async fn unmute(svc: Svc, auth: Authenticated, path: web::Path<(Uuid, Uuid)>) -> Result<HttpResponse, ApiError> {
    let (room_id, user_id) = path.into_inner();
    set_muted(&svc, &auth.0, room_id, user_id, false).await?;
    Ok(HttpResponse::Ok().json(MuteResponse {
        room_id,
        user_id,
        muted: false,
    }))
}

#[utoipa::path(delete, path = "/v1/rooms/{room_id}/chat/{offset}", tag = "moderation",
    security(("bearer" = [])), responses((status = 200, body = DeletedResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[delete("/v1/rooms/{room_id}/chat/{offset}")]
pub async fn delete_chat(
    svc: Svc,
    auth: Authenticated,
    path: web::Path<(Uuid, u64)>,
) -> Result<HttpResponse, ApiError> {
    let (room_id, offset) = path.into_inner();
    delete_message(&svc, &auth.0, room_id, offset).await?;
    Ok(HttpResponse::Ok().json(DeletedResponse { offset, deleted: true }))
}
