//! `list_room_coupons`: the coupons a room issued, for its merchant, newest first, paged;
//! `redeemed` filters to the ones spent (or not yet).

use super::list_coupons::coupon_view;
use super::paging::{Cursor, Page};
use super::views::CouponView;
use super::{owned_room, AppError, Caller, Services};
use livecart_actors::RoomId;

pub async fn list_room_coupons(
    services: &Services,
    caller: &Caller,
    room_id: RoomId,
    redeemed: Option<bool>,
    page: Page,
) -> Result<(Vec<CouponView>, Option<String>), AppError> {
    owned_room(services, caller, room_id).await?;
    let coupons = services
        .marketing
        .coupons_of_room(room_id, redeemed, page.window())
        .await?;
    let (coupons, next) = page.cut(coupons, |c| Cursor {
        created_at: c.created_at,
        id: c.id,
    });
    Ok((coupons.iter().map(coupon_view).collect(), next))
}
