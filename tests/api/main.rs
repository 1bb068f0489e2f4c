//! The integration suite: the real server on a real port, with real databases.
//! Every scenario runs twice, on SQLite and on PostgreSQL (see `on_both_backends!`).

#[macro_use]
mod helpers;

mod cli;
mod concurrency;
mod coupons;
mod durability;
mod faults;
mod idempotency;
mod identity;
mod limits;
mod live_status;
mod logs;
mod operations;
mod ownership;
mod process;
mod proxy;
mod refusals;
mod restart;
mod tenancy;
mod wire_format;
mod ws_client;
mod ws_load;
mod ws_room;
