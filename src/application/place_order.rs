//! `place_order`: a viewer buys from a live flash sale.
//!
//! One message decides it: the listing's InventoryActor already knows the room's status and the
//! sale window, so it checks the window, quantity, stock, per-user limit and idempotency key in
//! one serialized step, and answers once the order is durable in the journal's group commit.

use super::{AppError, Caller, Services};
use livecart_actors::ids::new_id;
use livecart_actors::inventory::{Placed, Reserve, ReserveError, ReserveFailed, ReserveRequest};
use livecart_actors::order::Order;
use livecart_actors::{ListingId, Role, RoomId};
use std::time::Instant;

pub struct OrderRequest {
    pub room_id: RoomId,
    pub listing_id: ListingId,
    pub quantity: u32,
    pub idempotency_key: Option<String>,
}

/// A placed order, and whether this call made it or replayed an earlier call with the same key.
pub enum OrderOutcome {
    Created(Order),
    Replayed(Order),
}

pub async fn place_order(services: &Services, caller: &Caller, req: OrderRequest) -> Result<OrderOutcome, AppError> {
    caller.require(Role::Viewer)?;
    if let Some(key) = &req.idempotency_key {
        if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(AppError::invalid(
                "Idempotency-Key",
                "1 to 255 visible ASCII characters",
            ));
        }
    }
    let started = Instant::now();
    let inventory = services
        .directory
        .inventory(req.room_id, req.listing_id)
        .await?
        .ok_or(AppError::NotFound("listing"))?;
    let request = ReserveRequest {
        order_id: new_id(),
        user_id: caller.user_id,
        quantity: req.quantity,
        idempotency_key: req.idempotency_key,
    };
    let decided = inventory
        .send(Reserve {
            room_id: req.room_id,
            request,
        })
        .await?;
    metrics::histogram!("livecart_place_order_seconds").record(started.elapsed().as_secs_f64());
    match decided {
        Ok(Placed::New(order)) => {
            metrics::counter!("livecart_orders_placed_total").increment(1);
            Ok(OrderOutcome::Created(order))
        }
        Ok(Placed::Replayed(order_id)) => {
            let order = services
                .storage
                .find_order(order_id)
                .await?
                .ok_or_else(|| AppError::Internal(anyhow::anyhow!("replayed order {order_id} is not stored")))?;
            Ok(OrderOutcome::Replayed(order))
        }
        Err(ReserveFailed::NotInRoom) => Err(AppError::NotFound("listing")),
        Err(ReserveFailed::Refused(refusal)) => {
            metrics::counter!("livecart_orders_refused_total", "reason" => refusal_code(refusal)).increment(1);
            Err(AppError::Refused(refusal))
        }
        Err(ReserveFailed::Storage(err)) => Err(AppError::Unavailable(err.to_string())),
    }
}

/// The contract's code for each refusal.
pub fn refusal_code(refusal: ReserveError) -> &'static str {
    match refusal {
        ReserveError::LiveNotStarted => "live_not_started",
        ReserveError::LiveEnded => "live_ended",
        ReserveError::SaleNotOpen => "sale_not_open",
        ReserveError::SaleEnded => "sale_ended",
        ReserveError::InvalidQuantity => "invalid_quantity",
        ReserveError::SoldOut => "sold_out",
        ReserveError::LimitExceeded => "limit_exceeded",
        ReserveError::IdempotencyKeyReused => "idempotency_key_reused",
    }
}
