//! `/v1/rooms`: create, read, list the merchant's own, go live, end, and a room's orders.

use super::{PageQuery, Svc};
use crate::application::change_room_status::{end_live, start_live};
use crate::application::create_room::{create_room, NewRoom};
use crate::application::get_room::get_room;
use crate::application::list_room_orders::{list_room_orders, RoomOrdersFilter};
use crate::application::list_rooms::list_rooms;
use crate::application::paging::Page;
use crate::application::views::{OrderPage, OrderView, RoomPage, RoomView};
use crate::application::AppError;
use crate::gateway::auth::{Authenticated, MaybeAuthenticated};
use crate::gateway::error::{ApiError, ErrorBody};
use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use livecart_actors::order::OrderStatus;
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

#[utoipa::path(get, path = "/v1/rooms", tag = "rooms", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = RoomPage), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/v1/rooms")]
pub async fn list_mine(svc: Svc, auth: Authenticated, query: web::Query<PageQuery>) -> Result<HttpResponse, ApiError> {
    let page = Page::parse(query.limit, query.cursor.as_deref())?;
    let (items, next) = list_rooms(&svc, &auth.0, page).await?;
    Ok(HttpResponse::Ok().json(RoomPage { items, next }))
}

/// A room's orders: optionally one `status` and one `listing_id`, paged.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RoomOrdersQuery {
    /// `reserved`, `paid`, `cancelled`, `expired` or `refunded`.
    status: Option<String>,
    listing_id: Option<Uuid>,
    /// 1 to 200; 50 by default.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/rooms/{room_id}/orders", tag = "orders", security(("bearer" = [])), params(RoomOrdersQuery),
    responses((status = 200, body = OrderPage), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/v1/rooms/{room_id}/orders")]
pub async fn orders(
    svc: Svc,
    auth: Authenticated,
    path: web::Path<Uuid>,
    query: web::Query<RoomOrdersQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let status = query
        .status
        .as_deref()
        .map(|s| {
            OrderStatus::parse(s)
                .ok_or_else(|| AppError::invalid("status", "reserved, paid, cancelled, expired or refunded"))
        })
        .transpose()?;
    let page = Page::parse(query.limit, query.cursor.as_deref())?;
    let filter = RoomOrdersFilter {
        status,
        listing_id: query.listing_id,
    };
    let (orders, next) = list_room_orders(&svc, &auth.0, path.into_inner(), filter, page).await?;
    Ok(HttpResponse::Ok().json(OrderPage {
        items: orders.into_iter().map(OrderView::from).collect(),
        next,
    }))
}
