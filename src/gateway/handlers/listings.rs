//! `/v1/rooms/{id}/listings`: place, list, restock, pin; and unpin.

use super::Svc;
use crate::application::close_listing::close_listing;
use crate::application::delete_listing::delete_listing;
use crate::application::edit_listing::{edit_listing, ListingChanges};
use crate::application::list_listings::list_listings;
use crate::application::pin_listing::{pin_listing, unpin_listing};
use crate::application::place_listing::{place_listing, NewListing};
use crate::application::restock_listing::restock_listing;
use crate::application::views::ListingView;
use crate::gateway::auth::Authenticated;
use crate::gateway::error::{ApiError, ErrorBody};
use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceListingBody {
    title: String,
    price_cents: i64,
    stock: i64,
    per_user_limit: i64,
    /// Absent: open as soon as the room is live.
    starts_at: Option<DateTime<Utc>>,
    ends_at: Option<DateTime<Utc>>,
}

/// What to change; an absent field stays as it is, `null` clears a window end.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditListingBody {
    title: Option<String>,
    price_cents: Option<i64>,
    /// The listing's whole stock (no orders exist, so all of it is left).
    stock: Option<i64>,
    per_user_limit: Option<i64>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    starts_at: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    ends_at: Option<Option<DateTime<Utc>>>,
}

/// A field that is present, even as `null` (`Some(None)`), as opposed to absent (`None`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestockBody {
    /// Units to add, at least 1.
    add: i64,
}

#[derive(Serialize, ToSchema)]
pub struct PinResponse {
    room_id: Uuid,
    pinned_listing_id: Uuid,
}

#[utoipa::path(post, path = "/v1/rooms/{room_id}/listings", tag = "listings", request_body = PlaceListingBody, security(("bearer" = [])),
    responses((status = 201, body = ListingView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/v1/rooms/{room_id}/listings")]
pub async fn place(
    svc: Svc,
    auth: Authenticated,
    path: web::Path<Uuid>,
    body: web::Json<PlaceListingBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let input = NewListing {
        title: b.title,
        price_cents: b.price_cents,
        stock: b.stock,
        per_user_limit: b.per_user_limit,
        starts_at: b.starts_at,
        ends_at: b.ends_at,
    };
    let listing = place_listing(&svc, &auth.0, path.into_inner(), input).await?;
    Ok(HttpResponse::Created().json(listing))
}

#[utoipa::path(get, path = "/v1/rooms/{room_id}/listings", tag = "listings", responses((status = 200, body = [ListingView]), (status = 404, body = ErrorBody)))]
#[get("/v1/rooms/{room_id}/listings")]
pub async fn list(svc: Svc, path: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(list_listings(&svc, path.into_inner()).await?))
}

#[utoipa::path(post, path = "/v1/rooms/{room_id}/listings/{listing_id}/stock", tag = "listings", request_body = RestockBody, security(("bearer" = [])),
    responses((status = 200, body = ListingView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/v1/rooms/{room_id}/listings/{listing_id}/stock")]
pub async fn restock(
    svc: Svc,
    auth: Authenticated,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<RestockBody>,
) -> Result<HttpResponse, ApiError> {
    let (room_id, listing_id) = path.into_inner();
    let listing = restock_listing(&svc, &auth.0, room_id, listing_id, body.add).await?;
    Ok(HttpResponse::Ok().json(listing))
}

#[utoipa::path(delete, path = "/v1/rooms/{room_id}/pin", tag = "listings", security(("bearer" = [])),
    responses((status = 204, description = "nothing is pinned now; viewers get `pinned` with `listing_id: null`"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[delete("/v1/rooms/{room_id}/pin")]
pub async fn unpin(svc: Svc, auth: Authenticated, path: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    unpin_listing(&svc, &auth.0, path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/v1/rooms/{room_id}/listings/{listing_id}/pin", tag = "listings", security(("bearer" = [])),
    responses((status = 200, body = PinResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[post("/v1/rooms/{room_id}/listings/{listing_id}/pin")]
pub async fn pin(svc: Svc, auth: Authenticated, path: web::Path<(Uuid, Uuid)>) -> Result<HttpResponse, ApiError> {
    let (room_id, listing_id) = path.into_inner();
    pin_listing(&svc, &auth.0, room_id, listing_id).await?;
    Ok(HttpResponse::Ok().json(PinResponse {
        room_id,
        pinned_listing_id: listing_id,
    }))
}

#[utoipa::path(patch, path = "/v1/rooms/{room_id}/listings/{listing_id}", tag = "listings", request_body = EditListingBody, security(("bearer" = [])),
    responses((status = 200, body = ListingView, description = "changed; viewers get the listing again in a `listing` frame"),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "`listing_has_orders`, or `live_ended`"),
        (status = 422, body = ErrorBody)))]
#[patch("/v1/rooms/{room_id}/listings/{listing_id}")]
pub async fn edit(
    svc: Svc,
    auth: Authenticated,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<EditListingBody>,
) -> Result<HttpResponse, ApiError> {
    let (room_id, listing_id) = path.into_inner();
    let b = body.into_inner();
    let changes = ListingChanges {
        title: b.title,
        price_cents: b.price_cents,
        stock: b.stock,
        per_user_limit: b.per_user_limit,
        starts_at: b.starts_at,
        ends_at: b.ends_at,
    };
    let listing = edit_listing(&svc, &auth.0, room_id, listing_id, changes).await?;
    Ok(HttpResponse::Ok().json(listing))
}

#[utoipa::path(post, path = "/v1/rooms/{room_id}/listings/{listing_id}/close", tag = "listings", security(("bearer" = [])),
    responses((status = 200, body = ListingView, description = "the sale ends now: later buys get `sale_ended`; orders placed stand"),
        (status = 403, body = ErrorBody)))]
#[post("/v1/rooms/{room_id}/listings/{listing_id}/close")]
pub async fn close(svc: Svc, auth: Authenticated, path: web::Path<(Uuid, Uuid)>) -> Result<HttpResponse, ApiError> {
    let (room_id, listing_id) = path.into_inner();
    Ok(HttpResponse::Ok().json(close_listing(&svc, &auth.0, room_id, listing_id).await?))
}

#[utoipa::path(delete, path = "/v1/rooms/{room_id}/listings/{listing_id}", tag = "listings", security(("bearer" = [])),
    responses((status = 204, description = "deleted; later buys get 404; a pinned listing is unpinned"),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "`listing_has_orders`: close it instead")))]
#[delete("/v1/rooms/{room_id}/listings/{listing_id}")]
pub async fn remove(svc: Svc, auth: Authenticated, path: web::Path<(Uuid, Uuid)>) -> Result<HttpResponse, ApiError> {
    let (room_id, listing_id) = path.into_inner();
    delete_listing(&svc, &auth.0, room_id, listing_id).await?;
    Ok(HttpResponse::NoContent().finish())
}
