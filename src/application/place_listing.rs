//! `place_listing`: the merchant puts flash stock of a product into the room.

use super::ports::catalog::ListingRecord;
use super::views::ListingView;
use super::{owned_room, validate, AppError, Caller, Services};
use chrono::{DateTime, Utc};
use livecart_actors::directory::ListingSeed;
use livecart_actors::ids::new_id;
use livecart_actors::inventory::{ListingTerms, ReserveError, MAX_ORDER_QUANTITY};
use livecart_actors::room::RoomStatus;
use livecart_actors::RoomId;

/// Most units one listing may hold, and most cents one unit may cost.
pub const MAX_STOCK: i64 = 100_000_000;
pub const MAX_PRICE_CENTS: i64 = 100_000_000_000;

pub struct NewListing {
    pub title: String,
    pub price_cents: i64,
    pub stock: i64,
    pub per_user_limit: i64,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
}

pub async fn place_listing(
    services: &Services,
    caller: &Caller,
    room_id: RoomId,
    input: NewListing,
) -> Result<ListingView, AppError> {
    let room = owned_room(services, caller, room_id).await?;
    if room.status == RoomStatus::Ended {
        return Err(AppError::Refused(ReserveError::LiveEnded));
    }
    let title = validate::text("title", &input.title, 200)?;
    let price_cents = validate::range("price_cents", input.price_cents, 0, MAX_PRICE_CENTS)?;
    let stock = validate::range("stock", input.stock, 0, MAX_STOCK)?;
    let per_user_limit = validate::range("per_user_limit", input.per_user_limit, 1, i64::from(MAX_ORDER_QUANTITY))?;
    if let (Some(starts), Some(ends)) = (input.starts_at, input.ends_at) {
        if ends <= starts {
            return Err(AppError::invalid("ends_at", "must be after starts_at"));
        }
    }
    let listing = ListingRecord {
        id: new_id(),
        room_id,
        title,
        price_cents,
        stock_total: stock as u64,
        per_user_limit: per_user_limit as u32,
        starts_at: input.starts_at,
        ends_at: input.ends_at,
        created_at: services.clock.now(),
    };
    services.listings.insert_listing(listing.clone()).await?;
    // A room running here starts the listing's actor now; a room not running here (or running on
    // another node) picks the stored listing up on its next order.
    {
        let seed = ListingSeed {
            title: listing.title.clone(),
            terms: ListingTerms {
                listing_id: listing.id,
                room_id,
                price_cents,
                per_user_limit: listing.per_user_limit,
                starts_at: listing.starts_at,
                ends_at: listing.ends_at,
            },
            total_stock: listing.stock_total,
            holdings: Default::default(),
            position: 0,
            restored: false,
        };
        services.directory.attach_listing(seed).await?;
    }
    tracing::info!(room.id = %room_id, listing.id = %listing.id, listing.stock = stock, "listing placed");
    Ok(listing_view(&listing, listing.stock_total))
}

pub fn listing_view(listing: &ListingRecord, stock_left: u64) -> ListingView {
    ListingView {
        id: listing.id,
        room_id: listing.room_id,
        title: listing.title.clone(),
        price_cents: listing.price_cents,
        stock: listing.stock_total,
        stock_left,
        per_user_limit: listing.per_user_limit,
        starts_at: listing.starts_at,
        ends_at: listing.ends_at,
    }
}
