//! `marketing_*`: buyer-coupon campaigns, the coupons they issue, and the events already handled.

use super::Storage;
use crate::infrastructure::db::schema::marketing_campaigns::dsl as campaigns;
use crate::infrastructure::db::schema::marketing_coupons::dsl as coupons;
use crate::infrastructure::db::schema::marketing_processed_events::dsl as processed;
use crate::infrastructure::db::{parse_id, time, with_conn, StorageResult};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use livecart_actors::{OrderId, RoomId, UserId};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct CampaignRecord {
    pub room_id: RoomId,
    pub amount_off_cents: i64,
    pub min_spend_cents: i64,
    pub valid_for_s: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct CouponRecord {
    pub id: Uuid,
    pub order_id: OrderId,
    pub user_id: UserId,
    pub room_id: RoomId,
    pub amount_off_cents: i64,
    pub min_spend_cents: i64,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

impl Storage {
    /// Starts the room's campaign, replacing the one it had.
    pub async fn upsert_campaign(&self, c: CampaignRecord) -> StorageResult<()> {
        with_conn(&self.pool, move |conn| {
            conn.transaction(|conn| {
                diesel::delete(campaigns::marketing_campaigns.find(c.room_id.to_string())).execute(conn)?;
                diesel::insert_into(campaigns::marketing_campaigns)
                    .values((
                        campaigns::room_id.eq(c.room_id.to_string()),
                        campaigns::amount_off_cents.eq(c.amount_off_cents),
                        campaigns::min_spend_cents.eq(c.min_spend_cents),
                        campaigns::valid_for_s.eq(c.valid_for_s),
                        campaigns::created_at.eq(time::to_millis(c.created_at)),
                    ))
                    .execute(conn)?;
                Ok(())
            })
        })
        .await
    }

    pub async fn find_campaign(&self, room_id: RoomId) -> StorageResult<Option<CampaignRecord>> {
        with_conn(&self.pool, move |conn| {
            let row: Option<(i64, i64, i64, i64)> = campaigns::marketing_campaigns
                .find(room_id.to_string())
                .select((
                    campaigns::amount_off_cents,
                    campaigns::min_spend_cents,
                    campaigns::valid_for_s,
                    campaigns::created_at,
                ))
                .first(conn)
                .optional()?;
            Ok(row.map(
                |(amount_off_cents, min_spend_cents, valid_for_s, created_at)| CampaignRecord {
                    room_id,
                    amount_off_cents,
                    min_spend_cents,
                    valid_for_s,
                    created_at: time::from_millis(created_at),
                },
            ))
        })
        .await
    }

    /// Records the event as handled and issues the coupon (if any) in one transaction. Returns
    /// `false`, changing nothing, when the event was handled before.
    pub async fn handle_event_once(&self, event_id: Uuid, coupon: Option<CouponRecord>) -> StorageResult<bool> {
        let now = time::to_millis(Utc::now());
        let outcome = with_conn(&self.pool, move |conn| {
            conn.transaction(|conn| {
                diesel::insert_into(processed::marketing_processed_events)
                    .values((
                        processed::event_id.eq(event_id.to_string()),
                        processed::processed_at.eq(now),
                    ))
                    .execute(conn)?;
                if let Some(c) = coupon {
                    diesel::insert_into(coupons::marketing_coupons)
                        .values((
                            coupons::id.eq(c.id.to_string()),
                            coupons::order_id.eq(c.order_id.to_string()),
                            coupons::user_id.eq(c.user_id.to_string()),
                            coupons::room_id.eq(c.room_id.to_string()),
                            coupons::amount_off_cents.eq(c.amount_off_cents),
                            coupons::min_spend_cents.eq(c.min_spend_cents),
                            coupons::expires_at.eq(time::to_millis(c.expires_at)),
                            coupons::created_at.eq(time::to_millis(c.created_at)),
                        ))
                        .execute(conn)?;
                }
                Ok(true)
            })
        })
        .await;
        match outcome {
            Err(crate::infrastructure::db::StorageError::Query(DieselError::DatabaseError(
                DatabaseErrorKind::UniqueViolation,
                _,
            ))) => Ok(false),
            other => other,
        }
    }

    /// The buyer's coupons, newest first.
    pub async fn coupons_of_user(&self, user_id: UserId) -> StorageResult<Vec<CouponRecord>> {
        with_conn(&self.pool, move |conn| {
            let rows: Vec<(String, String, String, i64, i64, i64, i64)> = coupons::marketing_coupons
                .filter(coupons::user_id.eq(user_id.to_string()))
                .order((coupons::created_at.desc(), coupons::id.desc()))
                .select((
                    coupons::id,
                    coupons::order_id,
                    coupons::room_id,
                    coupons::amount_off_cents,
                    coupons::min_spend_cents,
                    coupons::expires_at,
                    coupons::created_at,
                ))
                .load(conn)?;
            rows.into_iter()
                .map(
                    |(id, order_id, room_id, amount_off_cents, min_spend_cents, expires_at, created_at)| {
                        Ok(CouponRecord {
                            id: parse_id(&id)?,
                            order_id: parse_id(&order_id)?,
                            user_id,
                            room_id: parse_id(&room_id)?,
                            amount_off_cents,
                            min_spend_cents,
                            expires_at: time::from_millis(expires_at),
                            created_at: time::from_millis(created_at),
                        })
                    },
                )
                .collect()
        })
        .await
    }
}
