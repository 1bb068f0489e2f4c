//! The order desk for `buy` frames: the same quantity rules and the same `place_order` use case
//! as `POST /v1/rooms/{id}/orders`, with errors in the same codes. The frame's `request_id` is the
//! order's idempotency key, as `Idempotency-Key` is over HTTP: a client that lost its connection
//! resends the frame and gets the order it already has, never a second one.

use crate::application::place_order::{place_order, valid_idempotency_key, OrderOutcome, OrderRequest};
use crate::application::{AppError, Caller, Services};
use crate::gateway::error::ApiError;
use crate::gateway::handlers::orders::sane_quantity;
use crate::gateway::limits::Limits;
use futures_util::future::BoxFuture;
use livecart_actors::order::Order;
use livecart_actors::session::{BuyRequest, FrameError, OrderDesk};
use std::sync::Arc;

pub struct WsOrderDesk {
    services: Services,
    limits: Arc<Limits>,
}

impl WsOrderDesk {
    pub fn new(services: Services, limits: Arc<Limits>) -> Self {
        Self { services, limits }
    }
}

impl OrderDesk for WsOrderDesk {
    fn buy(&self, request: BuyRequest) -> BoxFuture<'static, Result<Order, FrameError>> {
        let services = self.services.clone();
        let allowed = self.limits.check_order(request.user_id);
        Box::pin(async move {
            if let Err(limited) = allowed {
                let body = limited.body();
                return Err(FrameError::new(body.error, body.message));
            }
            let caller = Caller {
                user_id: request.user_id,
                role: request.role,
            };
            let placed = async {
                if !valid_idempotency_key(&request.request_id) {
                    return Err(AppError::invalid("request_id", "1 to 255 visible ASCII characters"));
                }
                let order = OrderRequest {
                    room_id: request.room_id,
                    listing_id: request.listing_id,
                    quantity: sane_quantity(request.quantity.whole())?,
                    idempotency_key: Some(request.request_id),
                };
                place_order(&services, &caller, order).await
            };
            match placed.await {
                Ok(OrderOutcome::Created(order) | OrderOutcome::Replayed(order)) => Ok(order),
                Err(err) => {
                    if let AppError::Internal(cause) = &err {
                        tracing::error!(error = ?cause, "buy over WebSocket failed");
                    }
                    let body = ApiError::from(err).body();
                    Err(FrameError::new(body.error, body.message))
                }
            }
        })
    }
}
