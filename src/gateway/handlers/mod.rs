//! HTTP handlers, grouped by the resource they serve. Each parses input, calls one use case and
//! shapes the answer; no rule lives here.

pub mod coupons;
pub mod identity;
pub mod listings;
pub mod moderation;
pub mod operations;
pub mod orders;
pub mod payments;
pub mod rooms;

use crate::application::Services;
use actix_web::web;
use serde::Deserialize;

pub type Svc = web::Data<Services>;

/// Paging of a list: at most `limit` items (1–200, 50 by default) after `cursor`, the `next`
/// of the previous page.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// 1 to 200; 50 by default.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}
