//! The marketing consumer of `order.created`: issues the room's buyer coupon, once per order.
//!
//! It reads only marketing's own tables and the event; the event id is recorded in the same
//! transaction as the coupon, so a replayed event issues nothing new.

use crate::infrastructure::repos::marketing::CouponRecord;
use crate::infrastructure::repos::Storage;
use futures_util::future::BoxFuture;
use livecart_actors::events::{DomainEvent, EventHandler, EventPayload, HandlerError};
use livecart_actors::ids::new_id;

pub struct IssueCoupon {
    storage: Storage,
}

impl IssueCoupon {
    pub fn new(storage: Storage) -> Self {
        Self { storage }
    }
}

impl EventHandler for IssueCoupon {
    fn handle(&self, event: DomainEvent) -> BoxFuture<'static, Result<(), HandlerError>> {
        let storage = self.storage.clone();
        Box::pin(async move {
            let EventPayload::OrderCreated {
                order_id,
                room_id,
                user_id,
                ..
            } = event.payload
            else {
                return Ok(());
            };
            let fail = |e: crate::infrastructure::db::StorageError| HandlerError(e.to_string());
            let campaign = storage.find_campaign(room_id).await.map_err(fail)?;
            // Only orders placed once the campaign runs earn a coupon.
            let coupon = campaign.filter(|c| c.created_at <= event.at).map(|c| CouponRecord {
                id: new_id(),
                order_id,
                user_id,
                room_id,
                amount_off_cents: c.amount_off_cents,
                min_spend_cents: c.min_spend_cents,
                expires_at: event.at + chrono::Duration::seconds(c.valid_for_s),
                created_at: event.at,
            });
            let issued = coupon.is_some();
            if storage.handle_event_once(event.id, coupon).await.map_err(fail)? && issued {
                tracing::debug!(order.id = %order_id, user.id = %user_id, "coupon issued");
                metrics::counter!("livecart_coupons_issued_total").increment(1);
            }
            Ok(())
        })
    }
}
