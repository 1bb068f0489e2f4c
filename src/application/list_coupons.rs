//! `list_coupons`: the caller's coupons, newest first, revoked ones included and marked so: all
//! of them, as the contract lists them, or one page when the client asks for pages.

use super::paging::{self, Cursor, Page};
use super::ports::marketing::CouponRecord;
use super::views::{CouponStatus, CouponView};
use super::{AppError, Caller, Services};

pub async fn list_coupons(
    services: &Services,
    caller: &Caller,
    page: Option<Page>,
) -> Result<(Vec<CouponView>, Option<String>), AppError> {
    let coupons = services
        .marketing
        .coupons_of_user(caller.user_id, paging::window(page.as_ref()))
        .await?;
    let (coupons, next) = paging::cut(page.as_ref(), coupons, |c| Cursor {
        created_at: c.created_at,
        id: c.id,
    });
    Ok((coupons.iter().map(coupon_view).collect(), next))
}

/// A coupon as its buyer and the room's merchant see it.
pub fn coupon_view(c: &CouponRecord) -> CouponView {
    CouponView {
        id: c.id,
        order_id: c.order_id,
        room_id: c.room_id,
        amount_off_cents: c.amount_off_cents,
        min_spend_cents: c.min_spend_cents,
        expires_at: c.expires_at,
        status: match (c.redeemed_at, c.revoked_at) {
            (Some(_), _) => CouponStatus::Redeemed,
            (None, Some(_)) => CouponStatus::Revoked,
            (None, None) => CouponStatus::Active,
        },
        revoked_at: c.revoked_at,
        redeemed_at: c.redeemed_at,
        redeemed_order_id: c.redeemed_order_id,
    }
}
