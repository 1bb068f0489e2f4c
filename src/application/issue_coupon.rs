//! The marketing consumer of `order.created`: issues the room's buyer coupon, once per order.
//!
//! It reads only marketing's own tables and the events. A batch costs one campaign lookup and
//! one transaction, which records every event id with the coupons, so a replayed event issues
//! nothing new and the consumer keeps pace with a flash sale.

use crate::infrastructure::repos::marketing::CouponRecord;
use crate::infrastructure::repos::Storage;
use futures_util::future::BoxFuture;
use livecart_actors::events::{DomainEvent, EventHandler, EventPayload, HandlerError};
use livecart_actors::ids::new_id;
use std::collections::HashSet;
use std::sync::Arc;

pub struct IssueCoupon {
    storage: Storage,
}

impl IssueCoupon {
    pub fn new(storage: Storage) -> Self {
        Self { storage }
    }
}

impl EventHandler for IssueCoupon {
    fn handle(&self, events: Arc<[DomainEvent]>) -> BoxFuture<'static, Result<(), HandlerError>> {
        let storage = self.storage.clone();
        Box::pin(async move {
            let orders: Vec<&DomainEvent> = events
                .iter()
                .filter(|e| matches!(e.payload, EventPayload::OrderCreated { .. }))
                .collect();
            if orders.is_empty() {
                return Ok(());
            }
            let fail = |e: crate::infrastructure::db::StorageError| HandlerError(e.to_string());
            let rooms: HashSet<_> = orders
                .iter()
                .filter_map(|e| match e.payload {
                    EventPayload::OrderCreated { room_id, .. } => Some(room_id),
                    _ => None,
                })
                .collect();
            let campaigns = storage
                .campaigns_of_rooms(rooms.into_iter().collect())
                .await
                .map_err(fail)?;
            let batch = orders
                .iter()
                .filter_map(|event| {
                    let EventPayload::OrderCreated {
                        order_id,
                        room_id,
                        user_id,
                        ..
                    } = event.payload
                    else {
                        return None;
                    };
                    // Only orders placed once the campaign runs earn a coupon.
                    let coupon = campaigns
                        .get(&room_id)
                        .filter(|c| c.created_at <= event.at)
                        .map(|c| CouponRecord {
                            id: new_id(),
                            order_id,
                            user_id,
                            room_id,
                            amount_off_cents: c.amount_off_cents,
                            min_spend_cents: c.min_spend_cents,
                            expires_at: event.at + chrono::Duration::seconds(c.valid_for_s),
                            created_at: event.at,
                        });
                    Some((event.id, coupon))
                })
                .collect();
            let issued = storage.handle_events_once(batch).await.map_err(fail)?;
            if issued > 0 {
                tracing::debug!(coupons.issued = issued, "coupons issued");
                metrics::counter!("livecart_coupons_issued_total").increment(issued as u64);
            }
            Ok(())
        })
    }
}
