//! `marketing_*`: buyer-coupon campaigns, the coupons they issue (and revoke when the order is
//! cancelled), and the events already handled.

use super::Storage;
use crate::application::ports::marketing::{CampaignRecord, CouponChanges, CouponEffect, CouponRecord, RedeemError};
use crate::application::ports::Window;
use crate::infrastructure::db::schema::marketing_campaigns::dsl as campaigns;
use crate::infrastructure::db::schema::marketing_coupons::dsl as coupons;
use crate::infrastructure::db::schema::marketing_processed_events::dsl as processed;
use crate::infrastructure::db::{parse_id, time, with_conn, with_write_conn, DbConnection, StorageResult};
use crate::{in_fixed_chunks, per_backend};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use livecart_actors::{OrderId, RoomId, UserId};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

#[derive(Insertable)]
#[diesel(table_name = crate::infrastructure::db::schema::marketing_processed_events)]
#[diesel(treat_none_as_default_value = false)]
struct NewProcessed {
    event_id: String,
    processed_at: i64,
}

#[derive(Insertable)]
#[diesel(table_name = crate::infrastructure::db::schema::marketing_coupons)]
#[diesel(treat_none_as_default_value = false)]
struct NewCoupon {
    id: String,
    order_id: String,
    user_id: String,
    room_id: String,
    amount_off_cents: i64,
    min_spend_cents: i64,
    expires_at: i64,
    created_at: i64,
}

impl From<&CouponRecord> for NewCoupon {
    fn from(c: &CouponRecord) -> Self {
        Self {
            id: c.id.to_string(),
            order_id: c.order_id.to_string(),
            user_id: c.user_id.to_string(),
            room_id: c.room_id.to_string(),
            amount_off_cents: c.amount_off_cents,
            min_spend_cents: c.min_spend_cents,
            expires_at: time::to_millis(c.expires_at),
            created_at: time::to_millis(c.created_at),
        }
    }
}

impl Storage {
    /// Starts the room's campaign, replacing the one it had.
    pub async fn upsert_campaign(&self, c: CampaignRecord) -> StorageResult<()> {
        with_write_conn(&self.pool, &self.writers, move |conn| {
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

    /// Stops the room's campaign; `false` when it had none. Coupons already issued stay.
    pub async fn delete_campaign(&self, room_id: RoomId) -> StorageResult<bool> {
        with_write_conn(&self.pool, &self.writers, move |conn| {
            Ok(diesel::delete(campaigns::marketing_campaigns.find(room_id.to_string())).execute(conn)? == 1)
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

    /// The campaigns running in these rooms, by room. The coupon consumer asks once per relay
    /// batch, usually for one room or a few: on SQLite one look-up by key per room, whose SQL never
    /// changes and so is prepared once per connection (`room_id IN (…)` was parsed and planned
    /// anew for every batch); on PostgreSQL `= ANY($1)`, one statement and one round trip.
    pub async fn campaigns_of_rooms(&self, room_ids: Vec<RoomId>) -> StorageResult<HashMap<RoomId, CampaignRecord>> {
        with_conn(&self.pool, move |conn| {
            type Row = (String, i64, i64, i64, i64);
            let columns = (
                campaigns::room_id,
                campaigns::amount_off_cents,
                campaigns::min_spend_cents,
                campaigns::valid_for_s,
                campaigns::created_at,
            );
            let ids: Vec<String> = room_ids.iter().map(|id| id.to_string()).collect();
            let rows: Vec<Row> = match &mut **conn {
                DbConnection::Sqlite(c) => {
                    let mut rows = Vec::new();
                    for id in ids {
                        // `load`, not `first`: a bound LIMIT makes SQLite prepare the statement
                        // again on every execution (see `repos::outbox::Unpublished`), and the
                        // key yields one row at most.
                        let row: Vec<Row> = campaigns::marketing_campaigns
                            .filter(campaigns::room_id.eq(id))
                            .select(columns)
                            .load(c)?;
                        rows.extend(row);
                    }
                    rows
                }
                DbConnection::Pg(c) => campaigns::marketing_campaigns
                    .filter(campaigns::room_id.eq_any(ids))
                    .select(columns)
                    .load(c)?,
            };
            rows.into_iter()
                .map(
                    |(room_id, amount_off_cents, min_spend_cents, valid_for_s, created_at)| {
                        let room_id = parse_id(&room_id)?;
                        let campaign = CampaignRecord {
                            room_id,
                            amount_off_cents,
                            min_spend_cents,
                            valid_for_s,
                            created_at: time::from_millis(created_at),
                        };
                        Ok((room_id, campaign))
                    },
                )
                .collect()
        })
        .await
    }

    /// Records a batch of events as handled and applies the effects of those not handled before,
    /// in one transaction: issues first, then revocations, so an order created and cancelled in
    /// the same batch ends revoked. An event seen before changes nothing, one order never gets two
    /// coupons, and a coupon is revoked once (a later revocation keeps the first time). Only events
    /// with an effect come here (see `application::issue_coupon`): the caller takes no write turn
    /// for a batch without one.
    pub async fn handle_events_once(&self, batch: Vec<(Uuid, CouponEffect)>) -> StorageResult<CouponChanges> {
        let now = time::to_millis(Utc::now());
        with_write_conn(&self.pool, &self.writers, move |conn| {
            conn.transaction(|conn| {
                let rows: Vec<NewProcessed> = batch
                    .iter()
                    .map(|(id, _)| NewProcessed {
                        event_id: id.to_string(),
                        processed_at: now,
                    })
                    .collect();
                // In chunks of fixed sizes, so the statements are prepared once per connection
                // (a batch's own size made a new statement, parsed and planned, per batch); on
                // SQLite `OR IGNORE`, which cannot abort, so no statement journal is kept.
                let fresh: Vec<Vec<String>> = match &mut **conn {
                    DbConnection::Sqlite(c) => in_fixed_chunks!(rows.as_slice(), |chunk| {
                        diesel::insert_or_ignore_into(processed::marketing_processed_events)
                            .values(chunk)
                            .returning(processed::event_id)
                            .get_results::<String>(c)
                    }),
                    DbConnection::Pg(c) => in_fixed_chunks!(rows.as_slice(), |chunk| {
                        diesel::insert_into(processed::marketing_processed_events)
                            .values(chunk)
                            .on_conflict_do_nothing()
                            .returning(processed::event_id)
                            .get_results::<String>(c)
                    }),
                }?;
                let fresh: HashSet<String> = fresh.into_iter().flatten().collect();
                let effects: Vec<&CouponEffect> = batch
                    .iter()
                    .filter(|(id, _)| fresh.contains(&id.to_string()))
                    .map(|(_, effect)| effect)
                    .collect();
                let mut changes = CouponChanges::default();
                let issue: Vec<NewCoupon> = effects
                    .iter()
                    .filter_map(|effect| match effect {
                        CouponEffect::Issue(coupon) => Some(NewCoupon::from(coupon)),
                        _ => None,
                    })
                    .collect();
                if !issue.is_empty() {
                    changes.issued = per_backend!(&mut **conn, c => diesel::insert_into(coupons::marketing_coupons)
                        .values(&issue)
                        .on_conflict_do_nothing()
                        .execute(c))?;
                }
                for effect in &effects {
                    if let CouponEffect::Revoke { order_id, at } = effect {
                        changes.revoked += diesel::update(
                            coupons::marketing_coupons
                                .filter(coupons::order_id.eq(order_id.to_string()))
                                .filter(coupons::revoked_at.is_null())
                                // A coupon already spent stays spent.
                                .filter(coupons::redeemed_at.is_null()),
                        )
                        .set(coupons::revoked_at.eq(time::to_millis(*at)))
                        .execute(conn)?;
                    }
                }
                Ok(changes)
            })
        })
        .await
    }

    /// Which of these orders have a coupon (revoked, spent or not). A read on the unique index of
    /// `order_id`, so the coupon consumer can tell a cancellation with nothing to revoke without
    /// taking a write turn.
    pub async fn orders_with_coupons(&self, order_ids: Vec<OrderId>) -> StorageResult<HashSet<OrderId>> {
        with_conn(&self.pool, move |conn| {
            let ids: Vec<String> = order_ids.iter().map(|id| id.to_string()).collect();
            let found: Vec<String> = coupons::marketing_coupons
                .filter(coupons::order_id.eq_any(ids))
                .select(coupons::order_id)
                .load(conn)?;
            found.iter().map(|id| parse_id(id)).collect()
        })
        .await
    }

    /// The buyer's coupons in the window, newest first.
    pub async fn coupons_of_user(&self, user_id: UserId, window: Window) -> StorageResult<Vec<CouponRecord>> {
        with_conn(&self.pool, move |conn| {
            let query = coupons::marketing_coupons
                .filter(coupons::user_id.eq(user_id.to_string()))
                .into_boxed();
            let rows: Vec<CouponRow> = newest_first!(query, coupons::created_at, coupons::id, window)
                .select(coupon_columns!())
                .load(conn)?;
            rows.into_iter().map(coupon_from_row).collect()
        })
        .await
    }

    /// The room's coupons in the window, newest first; only redeemed (or unredeemed) ones when
    /// `redeemed` says so.
    pub async fn coupons_of_room(
        &self,
        room_id: RoomId,
        redeemed: Option<bool>,
        window: Window,
    ) -> StorageResult<Vec<CouponRecord>> {
        with_conn(&self.pool, move |conn| {
            let mut query = coupons::marketing_coupons
                .filter(coupons::room_id.eq(room_id.to_string()))
                .into_boxed();
            query = match redeemed {
                Some(true) => query.filter(coupons::redeemed_at.is_not_null()),
                Some(false) => query.filter(coupons::redeemed_at.is_null()),
                None => query,
            };
            let rows: Vec<CouponRow> = newest_first!(query, coupons::created_at, coupons::id, window)
                .select(coupon_columns!())
                .load(conn)?;
            rows.into_iter().map(coupon_from_row).collect()
        })
        .await
    }

    pub async fn find_coupon(&self, id: Uuid) -> StorageResult<Option<CouponRecord>> {
        with_conn(&self.pool, move |conn| coupon_by_id(conn, id)).await
    }

    /// Spends the coupon, once: for the room's merchant, or (`order_id`) on that order's payment.
    pub async fn redeem_coupon(
        &self,
        id: Uuid,
        order_id: Option<OrderId>,
        at: DateTime<Utc>,
    ) -> Result<(), RedeemError> {
        with_write_conn(&self.pool, &self.writers, move |conn| {
            Ok(redeem(conn, id, order_id, at))
        })
        .await
        .map_err(|e| RedeemError::Store(e.into()))?
    }

    /// Gives back the coupon spent on the order's payment, when that payment failed.
    pub async fn release_coupon_of_order(&self, order_id: OrderId) -> StorageResult<()> {
        with_write_conn(&self.pool, &self.writers, move |conn| {
            diesel::update(coupons::marketing_coupons.filter(coupons::redeemed_order_id.eq(order_id.to_string())))
                .set((
                    coupons::redeemed_at.eq(None::<i64>),
                    coupons::redeemed_order_id.eq(None::<String>),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await
    }
}

type CouponRow = (
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

macro_rules! coupon_columns {
    () => {
        (
            coupons::id,
            coupons::order_id,
            coupons::user_id,
            coupons::room_id,
            coupons::amount_off_cents,
            coupons::min_spend_cents,
            coupons::expires_at,
            coupons::created_at,
            coupons::revoked_at,
            coupons::redeemed_at,
            coupons::redeemed_order_id,
        )
    };
}
use coupon_columns;

fn coupon_from_row(row: CouponRow) -> StorageResult<CouponRecord> {
    let (
        id,
        order_id,
        user_id,
        room_id,
        amount_off_cents,
        min_spend_cents,
        expires_at,
        created_at,
        revoked_at,
        redeemed_at,
        redeemed_order_id,
    ) = row;
    Ok(CouponRecord {
        id: parse_id(&id)?,
        order_id: parse_id(&order_id)?,
        user_id: parse_id(&user_id)?,
        room_id: parse_id(&room_id)?,
        amount_off_cents,
        min_spend_cents,
        expires_at: time::from_millis(expires_at),
        created_at: time::from_millis(created_at),
        revoked_at: revoked_at.map(time::from_millis),
        redeemed_at: redeemed_at.map(time::from_millis),
        redeemed_order_id: redeemed_order_id.as_deref().map(parse_id).transpose()?,
    })
}

/// Spends the coupon inside the caller's transaction (a payment's creation, or alone): one
/// conditional update, so of any number of concurrent redemptions exactly one changes the row;
/// the others read why they could not.
pub fn redeem(
    conn: &mut DbConnection,
    id: Uuid,
    order_id: Option<OrderId>,
    at: DateTime<Utc>,
) -> Result<(), RedeemError> {
    let now = time::to_millis(at);
    let spent = diesel::update(
        coupons::marketing_coupons
            .find(id.to_string())
            .filter(coupons::redeemed_at.is_null())
            .filter(coupons::revoked_at.is_null())
            .filter(coupons::expires_at.gt(now)),
    )
    .set((
        coupons::redeemed_at.eq(now),
        coupons::redeemed_order_id.eq(order_id.map(|o| o.to_string())),
    ))
    .execute(conn)?;
    if spent == 1 {
        return Ok(());
    }
    let state: Option<(Option<i64>, Option<i64>, i64)> = coupons::marketing_coupons
        .find(id.to_string())
        .select((coupons::redeemed_at, coupons::revoked_at, coupons::expires_at))
        .first(conn)
        .optional()?;
    Err(match state {
        None => RedeemError::NotFound,
        Some((Some(_), _, _)) => RedeemError::AlreadyRedeemed,
        Some((None, Some(_), _)) => RedeemError::Revoked,
        Some((None, None, _)) => RedeemError::Expired,
    })
}

/// A coupon by its key, in a statement SQLite keeps prepared (see [`super::by_key`]).
pub(super) fn coupon_by_id(conn: &mut DbConnection, id: Uuid) -> StorageResult<Option<CouponRecord>> {
    let row: Option<CouponRow> = coupons::marketing_coupons
        .find(id.to_string())
        .select(coupon_columns!())
        .get_result(conn)
        .optional()?;
    row.map(coupon_from_row).transpose()
}
