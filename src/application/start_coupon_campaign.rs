//! `start_coupon_campaign`: from now on every order in the room earns its buyer a coupon; and
//! the merchant's reading and stopping of it.

use super::ports::marketing::CampaignRecord;
use super::views::CampaignView;
use super::{owned_room, validate, AppError, Caller, Services};
use livecart_actors::RoomId;

pub struct NewCampaign {
    pub amount_off_cents: i64,
    pub min_spend_cents: i64,
    pub valid_for_s: i64,
}

pub async fn start_coupon_campaign(
    services: &Services,
    caller: &Caller,
    room_id: RoomId,
    input: NewCampaign,
) -> Result<CampaignView, AppError> {
    owned_room(services, caller, room_id).await?;
    let campaign = CampaignRecord {
        room_id,
        amount_off_cents: validate::range("amount_off_cents", input.amount_off_cents, 1, 100_000_000)?,
        min_spend_cents: validate::range("min_spend_cents", input.min_spend_cents, 0, 100_000_000_000)?,
        valid_for_s: validate::range("valid_for_s", input.valid_for_s, 60, 366 * 24 * 3600)?,
        created_at: services.clock.now(),
    };
    services.marketing.upsert_campaign(campaign.clone()).await?;
    tracing::info!(room.id = %room_id, "coupon campaign started");
    Ok(campaign_view(&campaign))
}

/// The room's running campaign, for its merchant; 404 when none runs.
pub async fn get_coupon_campaign(
    services: &Services,
    caller: &Caller,
    room_id: RoomId,
) -> Result<CampaignView, AppError> {
    owned_room(services, caller, room_id).await?;
    let campaign = services
        .marketing
        .find_campaign(room_id)
        .await?
        .ok_or(AppError::NotFound("campaign"))?;
    Ok(campaign_view(&campaign))
}

/// Stops the room's campaign: orders from now on earn nothing; coupons already issued stay.
/// 404 when none runs.
pub async fn stop_coupon_campaign(services: &Services, caller: &Caller, room_id: RoomId) -> Result<(), AppError> {
    owned_room(services, caller, room_id).await?;
    if !services.marketing.delete_campaign(room_id).await? {
        return Err(AppError::NotFound("campaign"));
    }
    tracing::info!(room.id = %room_id, "coupon campaign stopped");
    Ok(())
}

fn campaign_view(campaign: &CampaignRecord) -> CampaignView {
    CampaignView {
        room_id: campaign.room_id,
        amount_off_cents: campaign.amount_off_cents,
        min_spend_cents: campaign.min_spend_cents,
        valid_for_s: campaign.valid_for_s,
        created_at: campaign.created_at,
    }
}
