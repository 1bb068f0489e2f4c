//! `list_coupons`: the caller's coupons, newest first, revoked ones included and marked so: all
//! of them, as the contract lists them, or one page when the client asks for pages.

use super::paging::{self, Cursor, Page};
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
    let coupons = coupons
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
        .collect();
    Ok((coupons, next))
}
