//! `list_coupons`: the caller's coupons, newest first, revoked ones included and marked so.

use super::views::{CouponStatus, CouponView};
use super::{AppError, Caller, Services};

pub async fn list_coupons(services: &Services, caller: &Caller) -> Result<Vec<CouponView>, AppError> {
    let coupons = services.marketing.coupons_of_user(caller.user_id).await?;
    Ok(coupons
        .into_iter()
        .map(|c| CouponView {
            id: c.id,
            order_id: c.order_id,
            room_id: c.room_id,
            amount_off_cents: c.amount_off_cents,
            min_spend_cents: c.min_spend_cents,
            expires_at: c.expires_at,
            status: match c.revoked_at {
                None => CouponStatus::Active,
                Some(_) => CouponStatus::Revoked,
            },
            revoked_at: c.revoked_at,
        })
        .collect())
}
