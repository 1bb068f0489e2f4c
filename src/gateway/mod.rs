//! The gateway: authentication, routing, input validation, and errors mapped to the contract.

pub mod auth;
pub mod error;
pub mod handlers;
pub mod input;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod shared_app;
mod verified_tokens;
pub mod web_client;
pub mod ws;

use actix_web::web;
use handlers::{coupons, identity, listings, moderation, operations, orders, payments, rooms};

/// Every route of the public contract.
pub fn routes(cfg: &mut web::ServiceConfig) {
    // Routes are tried in this order, a path with `{…}` by a regex each, so the sale's hot route
    // comes first: a profile of a flash sale found about a tenth of the server's own CPU matching
    // the routes registered before it (the same path's GET, the room and listing routes).
    cfg.service(orders::place)
        .service(identity::register_user)
        .service(identity::login_user)
        .service(identity::guest_user)
        .service(rooms::create)
        .service(rooms::list_mine)
        .service(rooms::orders)
        .service(rooms::show)
        .service(rooms::start)
        .service(rooms::end)
        .service(listings::place)
        .service(listings::list)
        .service(listings::restock)
        .service(listings::edit)
        .service(listings::close)
        .service(listings::remove)
        .service(listings::pin)
        .service(listings::unpin)
        .service(orders::show)
        .service(orders::list)
        .service(orders::cancel)
        .service(payments::pay)
        .service(payments::webhook)
        .service(coupons::start_campaign)
        .service(coupons::show_campaign)
        .service(coupons::stop_campaign)
        .service(coupons::list)
        .service(coupons::redeem)
        .service(coupons::room_coupons)
        .service(moderation::mute)
        .service(moderation::unmute)
        .service(moderation::delete_chat)
        .service(ws::upgrade::connect)
        .service(operations::healthz)
        .service(operations::readyz)
        .service(operations::metrics)
        .service(operations::openapi)
        .service(operations::docs)
        .service(operations::docs_file)
        .service(web_client::start_page)
        .service(web_client::room_page)
        .service(web_client::console_page)
        .service(web_client::asset)
        // Also answers 405 for a documented path asked with another method: a new route gets
        // that by being in the OpenAPI document (`openapi.rs`).
        .default_service(web::to(input::no_such_route));
}
