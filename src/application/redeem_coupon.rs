//! `redeem_coupon`: the room's merchant spends a buyer's coupon (at the counter, say). A coupon
//! is spent once, whoever spends it: a second redemption, here or on a payment, is refused.

use super::list_coupons::coupon_view;
use super::views::CouponView;
use super::{AppError, Caller, Services};
use livecart_actors::Role;
use uuid::Uuid;

pub async fn redeem_coupon(services: &Services, caller: &Caller, coupon_id: Uuid) -> Result<CouponView, AppError> {
    caller.require(Role::Merchant)?;
    let coupon = services
        .marketing
        .find_coupon(coupon_id)
        .await?
        .ok_or(AppError::NotFound("coupon"))?;
    // Another merchant's coupon is as good as missing: coupon ids leak nothing.
    let room = services.rooms.find_room(coupon.room_id).await?;
    if room.is_none_or(|r| r.merchant_id != caller.user_id) {
        return Err(AppError::NotFound("coupon"));
    }
    services
        .marketing
        .redeem_coupon(coupon_id, None, services.clock.now())
        .await?;
    let redeemed = services
        .marketing
        .find_coupon(coupon_id)
        .await?
        .ok_or(AppError::NotFound("coupon"))?;
    tracing::info!(coupon.id = %coupon_id, room.id = %coupon.room_id, "coupon redeemed by the merchant");
    Ok(coupon_view(&redeemed))
}
