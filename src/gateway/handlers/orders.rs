//! `/v1/rooms/{id}/orders` and `/v1/orders`: place, read, list, cancel.

use super::{PageQuery, Svc};
use crate::application::cancel_order::cancel_order;
use crate::application::get_order::get_order;
use crate::application::list_orders::list_orders;
use crate::application::paging::Page;
use crate::application::place_order::{place_order, OrderOutcome, OrderRequest};
use crate::application::views::{OrderList, OrderPage, OrderView};
use crate::application::AppError;
use crate::gateway::auth::Authenticated;
use crate::gateway::error::{ApiError, ErrorBody};
use crate::gateway::limits::Limits;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use livecart_actors::inventory::{ReserveError, MAX_ORDER_QUANTITY};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrderBody {
    listing_id: Uuid,
    /// A whole number from 1 up; kept as a JSON number so that 0, negative and absurd values get
    /// 422 `invalid_quantity` rather than a type error.
    #[schema(value_type = u32)]
    quantity: serde_json::Number,
}

/// The quantity the buyer asked for, if it is a sane whole number.
pub fn parse_quantity(n: &serde_json::Number) -> Result<u32, AppError> {
    sane_quantity(n.as_u64().and_then(|q| u32::try_from(q).ok()))
}

/// A whole number of units (`None`: not one) within the contract's range; a `buy` frame's
/// quantity goes through the same rule.
pub fn sane_quantity(units: Option<u32>) -> Result<u32, AppError> {
    units
        .filter(|q| (1..=MAX_ORDER_QUANTITY).contains(q))
        .ok_or(AppError::Refused(ReserveError::InvalidQuantity))
}

#[utoipa::path(post, path = "/v1/rooms/{room_id}/orders", tag = "orders", request_body = PlaceOrderBody, security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "retries with the same key return the same order")),
    responses((status = 201, body = OrderView), (status = 200, body = OrderView, description = "replayed by Idempotency-Key"),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
#[post("/v1/rooms/{room_id}/orders")]
pub async fn place(
    svc: Svc,
    auth: Authenticated,
    limits: web::Data<Limits>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    body: web::Json<PlaceOrderBody>,
) -> Result<HttpResponse, ApiError> {
    let idempotency_key = match req.headers().get("Idempotency-Key") {
        Some(v) => Some(
            v.to_str()
                .map_err(|_| AppError::invalid("Idempotency-Key", "must be visible ASCII"))?
                .to_owned(),
        ),
        None => None,
    };
    limits.check_order(auth.0.user_id)?;
    let request = OrderRequest {
        room_id: path.into_inner(),
        listing_id: body.listing_id,
        quantity: parse_quantity(&body.quantity)?,
        idempotency_key,
    };
    Ok(match place_order(&svc, &auth.0, request).await? {
        OrderOutcome::Created(order) => HttpResponse::Created().json(OrderView::from(order)),
        OrderOutcome::Replayed(order) => HttpResponse::Ok().json(OrderView::from(order)),
    })
}

#[utoipa::path(get, path = "/v1/orders/{order_id}", tag = "orders", security(("bearer" = [])), responses((status = 200, body = OrderView), (status = 404, body = ErrorBody)))]
#[get("/v1/orders/{order_id}")]
pub async fn show(svc: Svc, auth: Authenticated, path: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let order = get_order(&svc, &auth.0, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(OrderView::from(order)))
}

#[utoipa::path(get, path = "/v1/orders", tag = "orders", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = OrderList, description = "all the caller's orders, newest first; `{items, next}` when `limit` or `cursor` is given"),
        (status = 422, body = ErrorBody)))]
#[get("/v1/orders")]
pub async fn list(svc: Svc, auth: Authenticated, query: web::Query<PageQuery>) -> Result<HttpResponse, ApiError> {
    let page = Page::requested(query.limit, query.cursor.as_deref())?;
    let paged = page.is_some();
    let (orders, next) = list_orders(&svc, &auth.0, page).await?;
    let items = orders.into_iter().map(OrderView::from).collect();
    Ok(HttpResponse::Ok().json(if paged {
        OrderList::Page(OrderPage { items, next })
    } else {
        OrderList::All(items)
    }))
}

#[utoipa::path(post, path = "/v1/orders/{order_id}/cancel", tag = "orders", security(("bearer" = [])),
    responses((status = 200, body = OrderView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[post("/v1/orders/{order_id}/cancel")]
pub async fn cancel(svc: Svc, auth: Authenticated, path: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let order = cancel_order(&svc, &auth.0, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(OrderView::from(order)))
}
