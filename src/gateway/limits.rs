//! Rate limits and connection caps, answered with 429 `rate_limited` and `Retry-After`.
//!
//! Auth calls are limited per client IP (password guessing, account farming), orders per user
//! (HTTP and WebSocket together: bots), and open WebSockets per IP. The IP is the socket's peer
//! address: behind a proxy, put the cap at the proxy. `limits.enabled = false` turns all of it
//! off, for load tests driven from one address.

use super::error::ApiError;
use crate::settings::LimitSettings;
use actix_web::HttpRequest;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use livecart_actors::UserId;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

pub struct Limits {
    enabled: bool,
    auth: DefaultKeyedRateLimiter<IpAddr>,
    orders: DefaultKeyedRateLimiter<UserId>,
    websockets: Mutex<HashMap<IpAddr, u32>>,
    websockets_per_ip: u32,
}

fn quota(per_second: u32, burst: u32) -> Quota {
    let per_second = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(per_second).allow_burst(NonZeroU32::new(burst).unwrap_or(per_second))
}

impl Limits {
    pub fn new(settings: &LimitSettings) -> Self {
        Self {
            enabled: settings.enabled,
            auth: RateLimiter::keyed(quota(settings.auth_per_second, settings.auth_burst)),
            orders: RateLimiter::keyed(quota(settings.orders_per_second, settings.orders_burst)),
            websockets: Mutex::new(HashMap::new()),
            websockets_per_ip: settings.websockets_per_ip,
        }
    }

    pub fn check_auth(&self, req: &HttpRequest) -> Result<(), ApiError> {
        self.check(&self.auth, &client_ip(req))
    }

    pub fn check_order(&self, user_id: UserId) -> Result<(), ApiError> {
        self.check(&self.orders, &user_id)
    }

    fn check<K: std::hash::Hash + Eq + Clone>(
        &self,
        limiter: &DefaultKeyedRateLimiter<K>,
        key: &K,
    ) -> Result<(), ApiError> {
        if !self.enabled {
            return Ok(());
        }
        limiter.check_key(key).map_err(|not_until| {
            metrics::counter!("livecart_rate_limited_total").increment(1);
            ApiError::RateLimited(not_until.wait_time_from(DefaultClock::default().now()))
        })
    }

    /// Takes one of the IP's WebSocket slots; the slot is given back when dropped.
    pub fn open_websocket(self: &Arc<Self>, req: &HttpRequest) -> Result<WebSocketSlot, ApiError> {
        let ip = client_ip(req);
        if self.enabled {
            let mut open = self.websockets.lock().unwrap_or_else(|p| p.into_inner());
            let count = open.entry(ip).or_insert(0);
            if *count >= self.websockets_per_ip {
                return Err(ApiError::RateLimited(std::time::Duration::from_secs(5)));
            }
            *count += 1;
        }
        Ok(WebSocketSlot {
            limits: self.clone(),
            ip,
        })
    }

    /// Forgets idle keys so the limiters' memory follows the active clients, not every client ever.
    pub fn forget_idle(&self) {
        self.auth.retain_recent();
        self.orders.retain_recent();
    }
}

/// An open WebSocket counted against its IP.
pub struct WebSocketSlot {
    limits: Arc<Limits>,
    ip: IpAddr,
}

impl Drop for WebSocketSlot {
    fn drop(&mut self) {
        if !self.limits.enabled {
            return;
        }
        let mut open = self.limits.websockets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

fn client_ip(req: &HttpRequest) -> IpAddr {
    req.peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}
