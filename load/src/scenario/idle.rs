//! Idle viewers: `n` room WebSockets opened and held, each answering the server's pings. When
//! the server's pid is known (the tool started it, or --server-pid), its resident memory is read
//! from /proc before and after: the growth per viewer is the server's own cost of an idle
//! viewer, since the client runs in another process.

use crate::process;
use crate::target::{Prepared, Target};
use crate::ws_load;
use serde::Serialize;
use std::time::Duration;

/// After the last welcome, the server gets this long to settle before its memory is read.
const SETTLE: Duration = Duration::from_secs(1);

#[derive(Debug, Serialize)]
pub struct Outcome {
    pub target: String,
    pub viewers: usize,
    pub connected: usize,
    pub first_error: Option<String>,
    pub rss_before_kib: Option<u64>,
    pub rss_after_kib: Option<u64>,
    pub kib_per_viewer: Option<f64>,
    /// Viewers the server closed while they were held.
    pub closed: u64,
}

pub async fn run(target: &Target, sale: &Prepared, viewers: usize) -> anyhow::Result<Outcome> {
    let rss = || target.pid.and_then(process::rss_kib);
    let before = rss();
    let urls = (0..viewers)
        .map(|v| ws_load::room_url(&target.ws_base(), &sale.sale.room, &sale.buyers[v % sale.buyers.len()]))
        .collect();
    let (sockets, first_error) = ws_load::join_all(urls).await;
    let connected = sockets.len();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let held = tokio::spawn(ws_load::hold(sockets, stopped));
    tokio::time::sleep(SETTLE).await;
    let after = rss();
    let _ = stop.send(true);
    let closed = held.await.unwrap_or(0);
    let kib_per_viewer = match (before, after) {
        (Some(b), Some(a)) if connected > 0 => Some(a.saturating_sub(b) as f64 / connected as f64),
        _ => None,
    };
    Ok(Outcome {
        target: target.name.clone(),
        viewers,
        connected,
        first_error,
        rss_before_kib: before,
        rss_after_kib: after,
        kib_per_viewer,
        closed,
    })
}
