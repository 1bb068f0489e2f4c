//! The marketing consumer of `order.created` and `order.cancelled`: issues the room's buyer
//! coupon, once per order, and revokes it when the order is cancelled — otherwise buying and
//! cancelling at once would farm coupons for free.
//!
//! It reads only marketing's own tables and the events. A batch costs one campaign lookup and,
//! only when some event in it has an effect, one transaction, which records each such event id
//! with its effect, so a replayed event changes nothing and the consumer keeps pace with a flash
//! sale. Events come in commit order, so an order's cancellation never arrives before its
//! creation.
//!
//! **Why an event without an effect needs no record.** Events are delivered at least once (the
//! relay redelivers a batch it could not mark; a stream consumer re-reads or claims entries it did
//! not acknowledge), so a replay must decide what the first delivery decided, or something
//! harmless. Two kinds of event have no effect and are not recorded:
//!
//! - An `order.created` outside any campaign: its effect is decided by the event and the room's
//!   campaign row alone, and a campaign counts only if created at or before the event. Starting a
//!   campaign (or stopping one and starting another) writes a row stamped with the moment it
//!   starts, which is after an order already handled, so a replay decides nothing again. The only
//!   way a replay decides otherwise is a campaign stamped before the order but not yet visible
//!   when the order was first handled (its insert committing in that instant, or another node's
//!   clock running behind); the order then earns the coupon the campaign promised it, once (one
//!   coupon per order is the `order_id` unique index), and the next item keeps it from outliving a
//!   cancellation.
//! - A cancellation (or expiry) of an order that has no coupon, and none issued in the same batch:
//!   a revocation changes only a coupon not yet revoked or spent, so applying it again is
//!   harmless, and skipping its record means a replay revokes a coupon that a replayed creation
//!   issued meanwhile (the case above), where a recorded revocation would have let it stand. The
//!   check is one read on the coupons' `order_id` index, and only for batches that carry
//!   cancellations.
//!
//! A flash sale in a room without a campaign thus costs a campaign lookup per batch and no write:
//! on SQLite no turn at the database's single writer, which the journal would wait behind.

use super::ports::marketing::{CampaignRecord, CouponEffect, CouponRecord, MarketingRepo};
use super::ports::StoreError;
use futures_util::future::BoxFuture;
use livecart_actors::events::{DomainEvent, EventHandler, EventPayload, HandlerError};
use livecart_actors::ids::new_id;
use livecart_actors::{OrderId, RoomId};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use uuid::Uuid;

pub struct IssueCoupon {
    store: Arc<dyn MarketingRepo>,
}

impl IssueCoupon {
    pub fn new(store: Arc<dyn MarketingRepo>) -> Self {
        Self { store }
    }
}

/// What `event` does to the coupons, given the campaigns of the batch's rooms; `None` when it does
/// nothing to them (not marketing's business, or an order outside any campaign).
fn effect(event: &DomainEvent, campaigns: &HashMap<RoomId, CampaignRecord>) -> Option<CouponEffect> {
    match event.payload {
        EventPayload::OrderCreated {
            order_id,
            room_id,
            user_id,
            ..
        } => {
            // Only orders placed once the campaign runs earn a coupon.
            campaigns.get(&room_id).filter(|c| c.created_at <= event.at).map(|c| {
                CouponEffect::Issue(CouponRecord {
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
                })
            })
        }
        // An order that stops holding stock unpaid gives its coupon back: buying and cancelling,
        // or reserving and never paying, farms nothing.
        EventPayload::OrderCancelled { order_id, .. } | EventPayload::OrderExpired { order_id, .. } => {
            Some(CouponEffect::Revoke { order_id, at: event.at })
        }
        _ => None,
    }
}

/// The orders of the batch's revocations that may have a coupon to revoke: none issued in this
/// batch, so the store has to say.
fn revocations_to_check(batch: &[(Uuid, CouponEffect)]) -> HashSet<OrderId> {
    let issued: HashSet<OrderId> = batch
        .iter()
        .filter_map(|(_, effect)| match effect {
            CouponEffect::Issue(coupon) => Some(coupon.order_id),
            CouponEffect::Revoke { .. } => None,
        })
        .collect();
    batch
        .iter()
        .filter_map(|(_, effect)| match effect {
            CouponEffect::Revoke { order_id, .. } if !issued.contains(order_id) => Some(*order_id),
            _ => None,
        })
        .collect()
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
            let mut batch: Vec<(Uuid, CouponEffect)> = events
                .iter()
                .filter_map(|event| effect(event, &campaigns).map(|effect| (event.id, effect)))
                .collect();
            let unchecked = revocations_to_check(&batch);
            if !unchecked.is_empty() {
                let with_coupons = store
                    .orders_with_coupons(unchecked.iter().copied().collect())
                    .await
                    .map_err(fail)?;
                // A revocation of an order that has no coupon, and gets none in this batch, does
                // nothing and is left unrecorded (see the module's documentation).
                batch.retain(|(_, effect)| match effect {
                    CouponEffect::Revoke { order_id, .. } => {
                        !unchecked.contains(order_id) || with_coupons.contains(order_id)
                    }
                    CouponEffect::Issue(_) => true,
                });
            }
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
        assert!(effect(&created, &HashMap::new()).is_none(), "no campaign, no effect");
        let later = HashMap::from([(room_id, campaign(room_id, now + chrono::Duration::milliseconds(1)))]);
        assert!(effect(&created, &later).is_none(), "a campaign started after the order");
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

    #[test]
    fn only_revocations_of_orders_without_a_coupon_in_the_batch_are_checked() {
        let (room_id, user_id, listing_id) = (new_id(), new_id(), new_id());
        let (issued_here, elsewhere) = (new_id(), new_id());
        let now = Utc::now();
        let campaigns = HashMap::from([(room_id, campaign(room_id, now))]);
        let created = |order_id| {
            DomainEvent::new(
                now,
                EventPayload::OrderCreated {
                    order_id,
                    room_id,
                    listing_id,
                    user_id,
                    quantity: 1,
                    total_cents: 100,
                },
            )
        };
        let cancelled = |order_id| {
            DomainEvent::new(
                now,
                EventPayload::OrderCancelled {
                    order_id,
                    room_id,
                    listing_id,
                    user_id,
                    quantity: 1,
                },
            )
        };
        let events = [
            created(issued_here),
            cancelled(issued_here),
            cancelled(elsewhere),
            cancelled(elsewhere),
        ];
        let batch: Vec<_> = events
            .iter()
            .filter_map(|e| effect(e, &campaigns).map(|effect| (e.id, effect)))
            .collect();
        assert_eq!(revocations_to_check(&batch), HashSet::from([elsewhere]));
    }
}
