//! The application layer: one use case per file, each a function over [`Services`].
//!
//! Use cases check who may act, validate what the domain does not, and then either ask the
//! owning actor (anything touching stock) or the store (everything else).

pub mod cancel_order;
pub mod change_room_status;
pub mod close_listing;
pub mod create_room;
pub mod delete_listing;
pub mod edit_listing;
pub mod error;
pub mod get_order;
pub mod get_room;
pub mod identity;
pub mod issue_coupon;
pub mod join_room;
pub mod list_coupons;
pub mod list_listings;
pub mod list_orders;
pub mod list_room_coupons;
pub mod list_room_orders;
pub mod list_rooms;
pub mod listing_change;
pub mod moderate_chat;
mod order_metrics;
pub mod paging;
pub mod pay_order;
pub mod payment_provider;
pub mod pin_listing;
pub mod place_listing;
pub mod place_order;
pub mod ports;
pub mod readiness;
pub mod receive_payment;
pub mod redeem_coupon;
pub mod restock_listing;
pub mod start_coupon_campaign;
pub mod validate;
pub mod views;
pub mod wake_reserved_rooms;

pub use error::AppError;

use identity::password::Passwords;
use livecart_actors::directory::Directory;
use livecart_actors::{Clock, Role, RoomId, UserId};
use ports::catalog::ListingRepo;
use ports::health::{Heartbeat, Ping};
use ports::identity::UserRepo;
use ports::live::{RoomRecord, RoomRepo};
use ports::marketing::MarketingRepo;
use ports::orders::OrderRepo;
use ports::payments::PaymentRepo;
use ports::stream::StreamSigner;
use std::sync::Arc;
use std::time::Duration;

/// The background parts whose health `/readyz` reports besides the database.
pub struct Probes {
    pub database: Arc<dyn Ping>,
    pub journal: Arc<dyn Heartbeat>,
    pub relay: Arc<dyn Heartbeat>,
    /// Present when Redis is configured.
    pub redis: Option<Arc<dyn Ping>>,
}

/// Everything a use case may reach, built once in `startup` and shared by every worker.
#[derive(Clone)]
pub struct Services {
    pub users: Arc<dyn UserRepo>,
    pub rooms: Arc<dyn RoomRepo>,
    pub listings: Arc<dyn ListingRepo>,
    pub orders: Arc<dyn OrderRepo>,
    pub marketing: Arc<dyn MarketingRepo>,
    /// The payments as stored (the provider that takes them is `payments`).
    pub payment_records: Arc<dyn PaymentRepo>,
    pub directory: Arc<Directory>,
    pub probes: Arc<Probes>,
    /// Set when the process is shutting down: readiness fails and new orders are refused (503)
    /// while what is in flight finishes.
    pub draining: Arc<std::sync::atomic::AtomicBool>,
    pub payments: Arc<dyn payment_provider::PaymentProvider>,
    /// An order not durable by then is answered 503 with Retry-After.
    pub order_deadline: Duration,
    pub clock: Arc<dyn Clock>,
    pub signer: Arc<dyn StreamSigner>,
    /// How long a signed push URL stays valid.
    pub push_url_ttl: chrono::Duration,
    /// Password hashing, bounded so a register or login flood cannot exhaust memory.
    pub passwords: Arc<Passwords>,
}

impl Services {
    pub fn is_draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The authenticated user a use case acts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub user_id: UserId,
    pub role: Role,
}

impl Caller {
    pub fn require(&self, role: Role) -> Result<(), AppError> {
        if self.role == role {
            Ok(())
        } else {
            Err(AppError::Forbidden(match role {
                Role::Merchant => "only a merchant may do this",
                Role::Viewer => "only a viewer may do this",
            }))
        }
    }
}

/// The room, if the caller is the merchant who owns it: 404 when it does not exist, 403 when
/// it belongs to someone else or the caller is no merchant.
pub async fn owned_room(services: &Services, caller: &Caller, room_id: RoomId) -> Result<RoomRecord, AppError> {
    caller.require(Role::Merchant)?;
    let room = services
        .rooms
        .find_room(room_id)
        .await?
        .ok_or(AppError::NotFound("room"))?;
    if room.merchant_id != caller.user_id {
        return Err(AppError::Forbidden("this room belongs to another merchant"));
    }
    Ok(room)
}
