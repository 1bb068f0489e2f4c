//! `place_order`: a viewer buys from a live flash sale.
//!
//! One message decides it: the listing's InventoryActor already knows the room's status and the
//! sale window, so it checks the window, quantity, stock, per-user limit and idempotency key in
//! one serialized step, and answers once the order is durable in the journal's group commit.

use super::{order_metrics, AppError, Caller, Services};
use livecart_actors::ids::new_id;
use livecart_actors::inventory::{self, Placed, Reserve, ReserveError, ReserveFailed, ReserveRequest};
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
    if services.is_draining() {
        return Err(AppError::Unavailable("the server is shutting down".into()));
    }
    if req
        .idempotency_key
        .as_deref()
        .is_some_and(|key| !valid_idempotency_key(key))
    {
        return Err(AppError::invalid(
            "Idempotency-Key",
            "1 to 255 visible ASCII characters",
        ));
    }
    let started = Instant::now();
    // The deadline covers the lookup, a full mailbox and the commit: a stalled database answers
    // 503 "retry" in bounded time. The decision goes on without us; if its commit lands after
    // all, a retry with the same Idempotency-Key finds that order.
    let decided = tokio::time::timeout(services.order_deadline, decide(services, caller, &req))
        .await
        .map_err(|_| {
            order_metrics::timed_out().increment(1);
            AppError::Unavailable("the order was not durable within the deadline".into())
        })??;
    order_metrics::place_order_seconds().record(started.elapsed().as_secs_f64());
    match decided {
        Ok(Placed::New(order)) => {
            order_metrics::placed().increment(1);
            Ok(OrderOutcome::Created(order))
        }
        Ok(Placed::Replayed(order_id)) => {
            let order = services
                .orders
                .find_order(order_id)
                .await?
                .ok_or_else(|| AppError::Internal(anyhow::anyhow!("replayed order {order_id} is not stored")))?;
            Ok(OrderOutcome::Replayed(order))
        }
        Err(ReserveFailed::NotInRoom) => Err(AppError::NotFound("listing")),
        Err(ReserveFailed::Retiring) => Err(AppError::Unavailable("the listing is moving; retry".into())),
        Err(ReserveFailed::Refused(refusal)) => {
            // The actor remembers only the keys of its own incarnation: a key used before a
            // restart is found in storage, and the same request then gets the same order.
            if let Some(order) = earlier_order(services, caller, &req, refusal).await? {
                return Ok(OrderOutcome::Replayed(order));
            }
            order_metrics::refused(refusal).increment(1);
            Err(AppError::Refused(refusal))
        }
        Err(ReserveFailed::Storage(err)) => Err(AppError::Unavailable(err.to_string())),
    }
}

/// Finds the listing's actor and has it decide; the answer comes once the order is durable.
/// An actor being passivated turns the order away unhandled, and it goes to the next
/// incarnation, which the Directory starts once the old one has stopped.
async fn decide(
    services: &Services,
    caller: &Caller,
    req: &OrderRequest,
) -> Result<Result<Placed, ReserveFailed>, AppError> {
    const ATTEMPTS: usize = 3;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let inventory = services
            .directory
            .inventory(req.room_id, req.listing_id)
            .await?
            .ok_or(AppError::NotFound("listing"))?;
        let request = ReserveRequest {
            order_id: new_id(),
            user_id: caller.user_id,
            quantity: req.quantity,
            idempotency_key: req.idempotency_key.clone(),
        };
        // With the other reserves this worker thread sends the listing in the same turn, as one
        // message (see `inventory::gather`).
        let sent = inventory::reserve(&inventory, Reserve::new(req.room_id, request)).await;
        match sent {
            Ok(Err(ReserveFailed::Retiring)) if attempt < ATTEMPTS => continue,
            // Stopped before it handled the message: nothing was decided.
            Err(actix::MailboxError::Closed) if attempt < ATTEMPTS => continue,
            Ok(decided) => return Ok(decided),
            Err(err) => return Err(err.into()),
        }
    }
}

/// For a refused request with an idempotency key: the stored order that key made, when it was
/// made by this same request (same listing and quantity). Another request with the key stays
/// refused as reused.
async fn earlier_order(
    services: &Services,
    caller: &Caller,
    req: &OrderRequest,
    refusal: ReserveError,
) -> Result<Option<Order>, AppError> {
    let Some(key) = &req.idempotency_key else {
        return Ok(None);
    };
    if !matches!(
        refusal,
        ReserveError::IdempotencyKeyReused | ReserveError::SoldOut | ReserveError::LimitExceeded
    ) {
        return Ok(None);
    }
    let Some(order) = services.orders.order_by_key(caller.user_id, key.clone()).await? else {
        return Ok(None);
    };
    if order.listing_id == req.listing_id && order.room_id == req.room_id && order.quantity == req.quantity {
        Ok(Some(order))
    } else if refusal == ReserveError::IdempotencyKeyReused {
        Ok(None)
    } else {
        Err(AppError::Refused(ReserveError::IdempotencyKeyReused))
    }
}

/// What an idempotency key may be: HTTP's `Idempotency-Key`, or a `buy` frame's `request_id`.
pub fn valid_idempotency_key(key: &str) -> bool {
    (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
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
        ReserveError::Suspended => "unavailable",
    }
}
