//! Coupons: the merchant's campaign and the buyer's coupons.

use super::{PageQuery, Svc};
use crate::application::list_coupons::list_coupons;
use crate::application::list_room_coupons::list_room_coupons;
use crate::application::paging::Page;
use crate::application::redeem_coupon::redeem_coupon;
use crate::application::start_coupon_campaign::{
    get_coupon_campaign, start_coupon_campaign, stop_coupon_campaign, NewCampaign,
};
use crate::application::views::{CampaignView, CouponList, CouponPage, CouponView};
use crate::gateway::auth::Authenticated;
use crate::gateway::error::{ApiError, ErrorBody};
use actix_web::{delete, get, post, web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignBody {
    amount_off_cents: i64,
    min_spend_cents: i64,
    valid_for_s: i64,
}

#[utoipa::path(post, path = "/v1/rooms/{room_id}/coupon-campaign", tag = "coupons", request_body = CampaignBody, security(("bearer" = [])),
    responses((status = 201, body = CampaignView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/v1/rooms/{room_id}/coupon-campaign")]
pub async fn start_campaign(
    svc: Svc,
    auth: Authenticated,
    path: web::Path<Uuid>,
    body: web::Json<CampaignBody>,
) -> Result<HttpResponse, ApiError> {
    let input = NewCampaign {
        amount_off_cents: body.amount_off_cents,
        min_spend_cents: body.min_spend_cents,
        valid_for_s: body.valid_for_s,
    };
    let campaign = start_coupon_campaign(&svc, &auth.0, path.into_inner(), input).await?;
    Ok(HttpResponse::Created().json(campaign))
}

#[utoipa::path(get, path = "/v1/rooms/{room_id}/coupon-campaign", tag = "coupons", security(("bearer" = [])),
    responses((status = 200, body = CampaignView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "no such room, or no campaign runs")))]
#[get("/v1/rooms/{room_id}/coupon-campaign")]
pub async fn show_campaign(svc: Svc, auth: Authenticated, path: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(get_coupon_campaign(&svc, &auth.0, path.into_inner()).await?))
}

#[utoipa::path(delete, path = "/v1/rooms/{room_id}/coupon-campaign", tag = "coupons", security(("bearer" = [])),
    responses((status = 204, description = "stopped; coupons already issued stay"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "no such room, or no campaign runs")))]
#[delete("/v1/rooms/{room_id}/coupon-campaign")]
pub async fn stop_campaign(svc: Svc, auth: Authenticated, path: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    stop_coupon_campaign(&svc, &auth.0, path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/v1/coupons", tag = "coupons", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = CouponList, description = "all the caller's coupons, newest first; `{items, next}` when `limit` or `cursor` is given"),
        (status = 422, body = ErrorBody)))]
#[get("/v1/coupons")]
pub async fn list(svc: Svc, auth: Authenticated, query: web::Query<PageQuery>) -> Result<HttpResponse, ApiError> {
    let page = Page::requested(query.limit, query.cursor.as_deref())?;
    let paged = page.is_some();
    let (items, next) = list_coupons(&svc, &auth.0, page).await?;
    Ok(HttpResponse::Ok().json(if paged {
        CouponList::Page(CouponPage { items, next })
    } else {
        CouponList::All(items)
    }))
}

#[utoipa::path(post, path = "/v1/coupons/{coupon_id}/redeem", tag = "coupons", security(("bearer" = [])),
    responses((status = 200, body = CouponView, description = "spent, by the room's merchant"), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "no such coupon of a room of the caller's"),
        (status = 409, body = ErrorBody, description = "`coupon_already_redeemed`, `coupon_expired`, `coupon_revoked`")))]
#[post("/v1/coupons/{coupon_id}/redeem")]
pub async fn redeem(svc: Svc, auth: Authenticated, path: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(redeem_coupon(&svc, &auth.0, path.into_inner()).await?))
}

/// A room's coupons: optionally only redeemed (`true`) or unredeemed (`false`) ones, paged.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RoomCouponsQuery {
    redeemed: Option<bool>,
    /// 1 to 200; 50 by default.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/rooms/{room_id}/coupons", tag = "coupons", security(("bearer" = [])), params(RoomCouponsQuery),
    responses((status = 200, body = CouponPage), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/v1/rooms/{room_id}/coupons")]
pub async fn room_coupons(
    svc: Svc,
    auth: Authenticated,
    path: web::Path<Uuid>,
    query: web::Query<RoomCouponsQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = Page::parse(query.limit, query.cursor.as_deref())?;
    let (items, next) = list_room_coupons(&svc, &auth.0, path.into_inner(), query.redeemed, page).await?;
    Ok(HttpResponse::Ok().json(CouponPage { items, next }))
}
