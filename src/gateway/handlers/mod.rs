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

pub type Svc = web::Data<Services>;
