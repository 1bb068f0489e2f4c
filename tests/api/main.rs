//! The integration suite: the real server on a real port, with real databases.
//! Every scenario runs twice, on SQLite and on PostgreSQL (see `on_both_backends!`).

#[macro_use]
mod helpers;

mod browser;
mod buyer_lists;
mod cli;
mod concurrency;
mod coupon_redemption;
mod coupons;
mod crash;
mod durability;
mod faults;
mod idempotency;
mod identity;
mod layers;
mod lifecycle;
mod limits;
mod listing_changes;
mod listing_snapshots;
mod live_status;
mod load_tool;
mod logs;
mod merchant_views;
mod operations;
mod outbox_order;
mod ownership;
mod passivation;
mod process;
mod proxy;
mod redis_server;
mod refusals;
mod restart;
mod room_snapshots;
mod session_snapshots;
mod shutdown;
mod streams;
mod tenancy;
mod web_client;
mod web_shop;
mod wire_format;
mod write_turns;
mod ws_client;
mod ws_frames;
mod ws_fuzz;
mod ws_load;
mod ws_room;
mod ws_upgrade;
