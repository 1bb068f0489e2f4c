//! `edit_listing`: the merchant corrects a listing nobody has ordered from yet: title, price,
//! stock, per-user limit, sale window. Once it has orders, they name its terms: 409
//! `listing_has_orders` (it can still be closed).

use super::listing_change::{decide, inventory, listing_in_room, tell_room, write_if_never_ordered};
use super::place_listing::{listing_view, MAX_PRICE_CENTS, MAX_STOCK};
use super::ports::catalog::ListingRecord;
use super::views::ListingView;
use super::{owned_room, validate, AppError, Caller, Services};
use chrono::{DateTime, Utc};
use livecart_actors::inventory::actor::Amend;
use livecart_actors::inventory::{ListingTerms, ReserveError, MAX_ORDER_QUANTITY};
use livecart_actors::room::RoomStatus;
use livecart_actors::{ListingId, RoomId};

/// What to change; `None` keeps the field. A window end is `Some(None)` to clear it.
#[derive(Debug, Default)]
pub struct ListingChanges {
    pub title: Option<String>,
    pub price_cents: Option<i64>,
    pub stock: Option<i64>,
    pub per_user_limit: Option<i64>,
    pub starts_at: Option<Option<DateTime<Utc>>>,
    pub ends_at: Option<Option<DateTime<Utc>>>,
}

pub async fn edit_listing(
    services: &Services,
    caller: &Caller,
    room_id: RoomId,
    listing_id: ListingId,
    changes: ListingChanges,
) -> Result<ListingView, AppError> {
    let room = owned_room(services, caller, room_id).await?;
    if room.status == RoomStatus::Ended {
        return Err(AppError::Refused(ReserveError::LiveEnded));
    }
    let base = listing_in_room(services, room_id, listing_id).await?;
    let listing = changed(base.clone(), changes)?;
    let actor = inventory(services, room_id, listing_id).await?;
    let stored = services.listings.clone();
    let record = listing.clone();
    // Runs while the actor decides nothing else: a restock or edit that landed since `base` was
    // read would be overwritten, so the edit is refused (retry) rather than lose it.
    let write = async move {
        if stored.find_listing(listing_id).await?.as_ref() != Some(&base) {
            return Err(AppError::Unavailable("the listing changed meanwhile; retry".into()));
        }
        Ok(stored.update_listing(record).await?)
    };
    let amend = Amend {
        room_id,
        terms: ListingTerms {
            listing_id,
            room_id,
            price_cents: listing.price_cents,
            per_user_limit: listing.per_user_limit,
            starts_at: listing.starts_at,
            ends_at: listing.ends_at,
        },
        total: listing.stock_total,
        write: write_if_never_ordered(services, listing_id, write),
    };
    let stock_left = decide(services, &actor, amend).await?;
    tell_room(services, &listing, stock_left).await?;
    tracing::info!(room.id = %room_id, listing.id = %listing_id, "listing edited");
    Ok(listing_view(&listing, stock_left))
}

/// The listing with the changes applied, validated as a new listing is.
fn changed(mut listing: ListingRecord, changes: ListingChanges) -> Result<ListingRecord, AppError> {
    if let Some(title) = changes.title {
        listing.title = validate::text("title", &title, 200)?;
    }
    if let Some(price) = changes.price_cents {
        listing.price_cents = validate::range("price_cents", price, 0, MAX_PRICE_CENTS)?;
    }
    if let Some(stock) = changes.stock {
        listing.stock_total = validate::range("stock", stock, 0, MAX_STOCK)? as u64;
    }
    if let Some(limit) = changes.per_user_limit {
        listing.per_user_limit = validate::range("per_user_limit", limit, 1, i64::from(MAX_ORDER_QUANTITY))? as u32;
    }
    if let Some(starts_at) = changes.starts_at {
        listing.starts_at = starts_at;
    }
    if let Some(ends_at) = changes.ends_at {
        listing.ends_at = ends_at;
    }
    if let (Some(starts), Some(ends)) = (listing.starts_at, listing.ends_at) {
        if ends <= starts {
            return Err(AppError::invalid("ends_at", "must be after starts_at"));
        }
    }
    Ok(listing)
}
