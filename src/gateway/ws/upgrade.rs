//! `GET /v1/rooms/{id}/ws?token=JWT[&epoch=E&offset=N]`: every check happens before the
//! upgrade, so a refused client gets a plain HTTP error in the contract's shape.

use super::{desk::WsOrderDesk, inbound, writer};
use crate::application::join_room::join_room;
use crate::application::AppError;
use crate::gateway::auth::TokenKeys;
use crate::gateway::error::{ApiError, ErrorBody};
use crate::gateway::handlers::Svc;
use crate::gateway::limits::Limits;
use actix::{Actor, AsyncContext};
use actix_web::body::BoxBody;
use actix_web::http::header::ORIGIN;
use actix_web::{get, web, HttpRequest, HttpResponse};
use livecart_actors::session::{OutboxLimits, SessionActor, SessionConfig, SessionPorts, SharedOutbox};
use serde::Deserialize;
use std::sync::Arc;
use uuid::Uuid;

#[derive(Deserialize)]
pub struct WsQuery {
    token: Option<String>,
    epoch: Option<u64>,
    offset: Option<u64>,
}

/// Browser origins allowed besides the server's own (`server.allowed_origins`).
#[derive(Debug, Clone, Default)]
pub struct AllowedOrigins(pub Vec<String>);

impl AllowedOrigins {
    /// No `Origin` (native apps, load testers) passes; a browser's must be ours or listed.
    fn permit(&self, req: &HttpRequest) -> bool {
        let Some(origin) = req.headers().get(ORIGIN) else {
            return true;
        };
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let info = req.connection_info();
        let own = format!("{}://{}", info.scheme(), info.host());
        origin.eq_ignore_ascii_case(&own) || self.0.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }
}

#[utoipa::path(get, path = "/v1/rooms/{room_id}/ws", tag = "live",
    description = "Upgrades to the room's WebSocket. Frames, delivery policies and close codes: docs/protocol.md.",
    params(
        ("room_id" = Uuid, Path),
        ("token" = String, Query, description = "the JWT, as in Authorization"),
        ("epoch" = Option<u64>, Query, description = "with offset: resume the chat after a reconnect"),
        ("offset" = Option<u64>, Query, description = "the last chat offset seen"),
    ),
    responses((status = 101, description = "switching protocols"),
        (status = 400, body = ErrorBody, description = "`bad_request`: not a WebSocket upgrade, or a malformed query"),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
#[get("/v1/rooms/{room_id}/ws")]
#[allow(clippy::too_many_arguments)] // one actix extractor per input the upgrade checks
pub async fn connect(
    req: HttpRequest,
    body: web::Payload,
    svc: Svc,
    keys: web::Data<TokenKeys>,
    origins: web::Data<AllowedOrigins>,
    limits: web::Data<Limits>,
    session_config: web::Data<SessionConfig>,
    path: web::Path<Uuid>,
    query: web::Query<WsQuery>,
) -> Result<HttpResponse, ApiError> {
    let room_id = path.into_inner();
    let token = query
        .token
        .as_deref()
        .ok_or(AppError::Unauthorized("a token query parameter is required"))?;
    let caller = keys.verify(token)?;
    if !origins.permit(&req) {
        return Err(AppError::Forbidden("this origin may not open the room").into());
    }
    let joined = join_room(&svc, &caller, room_id).await?;
    let slot = limits.clone().into_inner().open_websocket(&req)?;

    let mut response = actix_http::ws::handshake(req.head())
        .map_err(|e| ApiError::BadRequest(format!("not a WebSocket upgrade: {e}")))?;
    let frames = inbound::Frames::new(body.into_inner());
    let outbox = Arc::new(SharedOutbox::new(OutboxLimits::default()));
    let (viewer, room) = (joined.viewer, joined.room);
    let resume = query.epoch.zip(query.offset);
    let ports = SessionPorts {
        desk: Arc::new(WsOrderDesk::new(svc.get_ref().clone(), limits.into_inner())),
        snapshots: svc.directory.snapshots(),
    };
    let session_outbox = outbox.clone();
    let session_config = **session_config;
    let session = SessionActor::create(move |ctx| {
        ctx.add_stream(frames);
        SessionActor::new(viewer, room_id, room, session_outbox, ports, resume, session_config)
    });
    let writer = writer::Writer::new(outbox, session, slot);
    metrics::counter!("livecart_ws_connections_total").increment(1);
    let response = response
        .message_body(BoxBody::new(writer))
        .map_err(|e| ApiError::BadRequest(format!("not a WebSocket upgrade: {e}")))?;
    Ok(response.into())
}
