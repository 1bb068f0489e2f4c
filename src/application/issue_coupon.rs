//! The marketing consumer of `order.created` and `order.cancelled`: issues the room's buyer
//! coupon, once per order, and revokes it when the order is cancelled — otherwise buying and
//! cancelling at once would farm coupons for free.
//!
//! It reads only marketing's own tables and the events. A batch costs one campaign lookup and
//! one transaction, which records every event id with its effect, so a replayed event changes
//! nothing and the consumer keeps pace with a flash sale. Events come in commit order, so an
//! order's cancellation never arrives before its creation.

use super::ports::marketing::{CampaignRecord, CouponEffect, CouponRecord, MarketingRepo};
use super::ports::StoreError;
use futures_util::future::BoxFuture;
use livecart_actors::events::{DomainEvent, EventHandler, EventPayload, HandlerError};
use livecart_actors::ids::new_id;
use livecart_actors::RoomId;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

pub struct IssueCoupon {
    store: Arc<dyn MarketingRepo>,
}

impl IssueCoupon {
    pub fn new(store: Arc<dyn MarketingRepo>) -> Self {
        Self { store }
    }
}

/// What `event` does to the coupons, given the campaigns of the batch's rooms.
fn effect(event: &DomainEvent, campaigns: &HashMap<RoomId, CampaignRecord>) -> Option<CouponEffect> {
    match event.payload {
        EventPayload::OrderCreated {
            order_id,
            room_id,
            user_id,
            ..
        } => {
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
                    revoked_at: None,
                    redeemed_at: None,
                    redeemed_order_id: None,
                });
            Some(coupon.map_or(CouponEffect::Nothing, CouponEffect::Issue))
        }
        // An order that stops holding stock unpaid gives its coupon back: buying and cancelling,
        // or reserving and never paying, farms nothing.
        EventPayload::OrderCancelled { order_id, .. } | EventPayload::OrderExpired { order_id, .. } => {
            Some(CouponEffect::Revoke { order_id, at: event.at })
        }
        _ => None,
    }
}

impl EventHandler for IssueCoupon {
    fn handle(&self, events: Arc<[DomainEvent]>) -> BoxFuture<'static, Result<(), HandlerError>> {
        let store = self.store.clone();
        Box::pin(async move {
            let fail = |e: StoreError| HandlerError(e.to_string());
            let rooms: HashSet<RoomId> = events
                .iter()
                .filter_map(|e| match e.payload {
                    EventPayload::OrderCreated { room_id, .. } => Some(room_id),
                    _ => None,
                })
                .collect();
            let campaigns = if rooms.is_empty() {
                HashMap::new()
            } else {
                store
                    .campaigns_of_rooms(rooms.into_iter().collect())
                    .await
                    .map_err(fail)?
            };
            let batch: Vec<_> = events
                .iter()
                .filter_map(|event| effect(event, &campaigns).map(|effect| (event.id, effect)))
                .collect();
            if batch.is_empty() {
                return Ok(());
            }
            let changes = store.handle_events_once(batch).await.map_err(fail)?;
            if changes.issued > 0 {
                tracing::debug!(coupons.issued = changes.issued, "coupons issued");
                metrics::counter!("livecart_coupons_issued_total").increment(changes.issued as u64);
            }
            if changes.revoked > 0 {
                tracing::debug!(coupons.revoked = changes.revoked, "coupons of cancelled orders revoked");
                metrics::counter!("livecart_coupons_revoked_total").increment(changes.revoked as u64);
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn campaign(room_id: RoomId, created_at: chrono::DateTime<Utc>) -> CampaignRecord {
        CampaignRecord {
            room_id,
            amount_off_cents: 100,
            min_spend_cents: 0,
            valid_for_s: 60,
            created_at,
        }
    }

    #[test]
    fn creation_issues_within_a_campaign_and_cancellation_revokes() {
        let (room_id, order_id, user_id, listing_id) = (new_id(), new_id(), new_id(), new_id());
        let now = Utc::now();
        let campaigns = HashMap::from([(room_id, campaign(room_id, now))]);
        let created = DomainEvent::new(
            now,
            EventPayload::OrderCreated {
                order_id,
                room_id,
                listing_id,
                user_id,
                quantity: 1,
                total_cents: 100,
            },
        );
        assert!(matches!(effect(&created, &campaigns), Some(CouponEffect::Issue(c)) if c.order_id == order_id));
        assert!(matches!(effect(&created, &HashMap::new()), Some(CouponEffect::Nothing)));
        let cancelled = DomainEvent::new(
            now,
            EventPayload::OrderCancelled {
                order_id,
                room_id,
                listing_id,
                user_id,
                quantity: 1,
            },
        );
        assert!(
            matches!(effect(&cancelled, &campaigns), Some(CouponEffect::Revoke { order_id: o, at }) if o == order_id && at == now)
        );
        let started = DomainEvent::new(now, EventPayload::LiveStarted { room_id });
        assert!(effect(&started, &campaigns).is_none(), "not marketing's business");
    }
}
