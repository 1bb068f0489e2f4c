//! `GET /v1/rooms/{id}/ws?token=JWT[&epoch=E&offset=N]`: every check happens before the
//! upgrade, so a refused client gets a plain HTTP error in the contract's shape.
//!
//! The request reaches this handler through the takeover ([`super::takeover`]), which holds the
//! socket; an accepted session goes back to it in the 101 response's extensions.

use super::{desk::WsOrderDesk, writer::Writer};
use crate::application::join_room::join_room;
use crate::application::AppError;
use crate::gateway::auth::TokenKeys;
use crate::gateway::error::{ApiError, ErrorBody};
use crate::gateway::handlers::Svc;
use crate::gateway::limits::Limits;
use actix::Actor;
use actix_web::http::header::ORIGIN;
use actix_web::{get, web, HttpMessage, HttpRequest, HttpResponse};
use livecart_actors::session::{OutboxLimits, SessionActor, SessionConfig, SessionPorts, SharedOutbox};
use serde::Deserialize;
use std::sync::Arc;
use uuid::Uuid;

/// Put in an upgrade request's extensions by the takeover, which holds its socket: only such a
/// request can be accepted, since only there is a connection to hand the session to.
pub struct Upgradable;

/// An accepted session, in the 101 response's extensions, for the takeover to drive.
pub struct Accepted(pub Writer);

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
    if req.extensions().get::<Upgradable>().is_none() {
        // The handshake's headers, but not as the HTTP layer reads an upgrade (`Upgrade:` other
        // than exactly `websocket`): the socket stayed with the HTTP connection.
        return Err(ApiError::BadRequest(
            "not a WebSocket upgrade: the Upgrade header must be `websocket`".into(),
        ));
    }
    let outbox = Arc::new(SharedOutbox::new(OutboxLimits::default()));
    let (viewer, room) = (joined.viewer, joined.room);
    let resume = query.epoch.zip(query.offset);
    let ports = SessionPorts {
        desk: Arc::new(WsOrderDesk::new(svc.get_ref().clone(), limits.into_inner())),
        snapshots: svc.directory.snapshots(),
    };
    let session_outbox = outbox.clone();
    let session_config = **session_config;
    let session = SessionActor::new(viewer, room_id, room, session_outbox, ports, resume, session_config).start();
    let writer = Writer::new(outbox, session, slot);
    metrics::counter!("livecart_ws_connections_total").increment(1);
    let mut response = HttpResponse::from(response.finish().map_into_boxed_body());
    response.extensions_mut().insert(Accepted(writer));
    Ok(response)
}
