//! The OpenAPI document of the public contract, generated from the handlers' annotations.

use super::error::ErrorBody;
use super::handlers::{coupons, identity, listings, moderation, operations, orders, payments, rooms};
use crate::application::views::{
    CampaignView, CouponList, CouponPage, CouponStatus, CouponView, ListingView, OrderList, OrderPage, OrderView,
    PaymentView, PlayView, RoomPage, RoomView, StreamView,
};
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, Required, ResponseBuilder};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "livecart", description = "Live-commerce server: rooms, flash listings, orders. Errors are `{\"error\", \"message\"}`; times are RFC 3339 UTC with milliseconds. The contract is in docs/api.md, the WebSocket protocol in docs/protocol.md."),
    paths(
        identity::register_user, identity::login_user, identity::guest_user,
        rooms::create, rooms::list_mine, rooms::show, rooms::orders, rooms::start, rooms::end,
        listings::place, listings::list, listings::restock, listings::edit, listings::close, listings::remove, listings::pin, listings::unpin,
        orders::place, orders::show, orders::list, orders::cancel,
        payments::pay, payments::webhook,
        coupons::start_campaign, coupons::show_campaign, coupons::stop_campaign, coupons::list, coupons::redeem, coupons::room_coupons,
        moderation::mute, moderation::unmute, moderation::delete_chat,
        super::ws::upgrade::connect,
        operations::healthz, operations::readyz, operations::metrics, operations::openapi, operations::docs,
    ),
    components(schemas(ErrorBody, RoomView, StreamView, PlayView, ListingView, OrderView, OrderPage, OrderList, RoomPage, PaymentView, CampaignView, CouponView, CouponPage, CouponList, CouponStatus)),
    modifiers(&BearerAuth, &CommonAnswers),
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

/// What whole kinds of operations answer, written once here rather than at every handler (the
/// handlers list what their own rules answer: 403, 409, 422, 429), and the path parameters, which
/// the paths already name. Without these the document would promise fewer statuses than the
/// server sends, and clients generated from it would treat a contract error as unexpected.
struct CommonAnswers;

impl Modify for CommonAnswers {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for (path, item) in doc.paths.paths.iter_mut() {
            for operation in [&mut item.get, &mut item.post, &mut item.patch, &mut item.delete]
                .into_iter()
                .flatten()
            {
                add_path_parameters(path, operation);
                let takes_body = operation.request_body.is_some();
                let takes_query = operation
                    .parameters
                    .iter()
                    .flatten()
                    .any(|p| p.parameter_in == ParameterIn::Query);
                if takes_body || takes_query {
                    answer(
                        operation,
                        400,
                        "`bad_request`: malformed JSON, wrong field types, no JSON content type or a bad query string",
                    );
                }
                if takes_token(operation) {
                    answer(operation, 401, "`unauthorized`: missing, invalid or expired token");
                }
                if path.contains('{') {
                    answer(operation, 404, "`not_found`: no such resource (also a malformed id)");
                }
                if takes_body {
                    answer(operation, 413, "`payload_too_large`: the body is over the size limit");
                }
                answer(
                    operation,
                    503,
                    "`unavailable`: storage is unreachable or too slow, or the room is served elsewhere; nothing was recorded; see Retry-After",
                );
            }
        }
    }
}

/// Whether the operation takes a bearer token, required or optional (utoipa keeps a requirement's
/// schemes private, so they are read from its serialized form).
fn takes_token(operation: &Operation) -> bool {
    operation
        .security
        .iter()
        .flatten()
        .any(|requirement| serde_json::to_value(requirement).is_ok_and(|r| r.get("bearer").is_some()))
}

/// Declares each `{name}` of the path that the operation does not declare itself: ids are UUIDs,
/// `offset` (a chat offset) a whole number.
fn add_path_parameters(path: &str, operation: &mut Operation) {
    let names = path
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}'))
        .map(|(name, _)| name);
    for name in names {
        let parameters = operation.parameters.get_or_insert_with(Vec::new);
        if parameters
            .iter()
            .any(|p| p.name == name && p.parameter_in == ParameterIn::Path)
        {
            continue;
        }
        let schema = if name == "offset" {
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .minimum(Some(0))
        } else {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
        };
        parameters.push(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(schema))
                .build(),
        );
    }
}

/// Adds an error answer in the contract's shape, unless the handler documents that status itself.
fn answer(operation: &mut Operation, status: u16, description: &str) {
    let error_body = Content::new(Some(Ref::from_schema_name("ErrorBody")));
    operation
        .responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| {
            ResponseBuilder::new()
                .description(description)
                .content("application/json", error_body)
                .build()
                .into()
        });
}
