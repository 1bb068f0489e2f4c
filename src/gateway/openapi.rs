//! The OpenAPI document of the public contract, generated from the handlers' annotations.

use super::error::ErrorBody;
use super::handlers::{coupons, identity, listings, moderation, operations, orders, rooms};
use crate::application::views::{
    CampaignView, CouponStatus, CouponView, ListingView, OrderView, PlayView, RoomView, StreamView,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "livecart", description = "Live-commerce server: rooms, flash listings, orders. Errors are `{\"error\", \"message\"}`; times are RFC 3339 UTC with milliseconds. The contract is in docs/api.md, the WebSocket protocol in docs/protocol.md."),
    paths(
        identity::register_user, identity::login_user, identity::guest_user,
        rooms::create, rooms::show, rooms::start, rooms::end,
        listings::place, listings::list, listings::restock, listings::pin,
        orders::place, orders::show, orders::list, orders::cancel,
        coupons::start_campaign, coupons::list,
        moderation::mute, moderation::unmute, moderation::delete_chat,
        super::ws::upgrade::connect,
        operations::healthz, operations::readyz, operations::metrics, operations::openapi, operations::docs,
    ),
    components(schemas(ErrorBody, RoomView, StreamView, PlayView, ListingView, OrderView, CampaignView, CouponView, CouponStatus)),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .build();
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}
