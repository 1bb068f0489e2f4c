//! Fan-out: `viewers` in a live room while one sender posts chat at a fixed rate (stamped with
//! when each message fell due), with a like and a `buy` every tenth message so likes and stock
//! flow too. Every viewer times every chat frame from its due time to its receipt.

use super::pass::{CpuMeter, Timing};
use crate::recorder::Figures;
use crate::target::{Prepared, Target};
use crate::ws_load;
use serde::Serialize;
use std::time::Duration;

/// Late frames are waited for this long after the last send.
const DRAIN: Duration = Duration::from_secs(1);

#[derive(Debug, Serialize)]
pub struct Outcome {
    pub target: String,
    pub viewers: usize,
    pub chat_per_s: f64,
    /// Chat frames per second the server was asked to deliver: rate × viewers.
    pub offered_frames_per_s: f64,
    /// Chat frames received per second of sending.
    pub delivered_frames_per_s: f64,
    pub sent: u64,
    /// Chat frames that never arrived (the server drops chat beyond a viewer's queue).
    pub dropped: u64,
    /// Viewers the server closed during the pass.
    pub closed: u64,
    /// The server's CPU over the pass, in cores, and the frames it delivered per CPU-second:
    /// the per-core figure (known when the server runs on this machine).
    pub server_cores: Option<f64>,
    pub frames_per_server_core_s: Option<f64>,
    /// Delivery latency (`p50_ms`…) and frames per second over time.
    pub latency: Figures,
}

pub async fn run(
    target: &Target,
    sale: &Prepared,
    viewers: usize,
    rate: f64,
    timing: Timing,
) -> anyhow::Result<Outcome> {
    let urls = (0..=viewers)
        .map(|v| ws_load::room_url(&target.ws_base(), &sale.sale.room, &sale.buyers[v % sale.buyers.len()]))
        .collect();
    let (mut sockets, error) = ws_load::join_all(urls).await;
    if let Some(e) = error {
        anyhow::bail!(
            "{} of {} fan-out viewers could not join: {e}",
            viewers + 1 - sockets.len(),
            viewers + 1
        );
    }
    let sender = sockets.pop().ok_or_else(|| anyhow::anyhow!("no sender"))?;
    // Everyone has joined; a second for the welcome's aftermath (viewer counts) to pass.
    let start = std::time::Instant::now() + Duration::from_secs(1);
    let send_end = start + timing.measure;
    let recorder = std::sync::Arc::new(crate::recorder::Recorder::new(start, timing.measure + DRAIN));
    let cpu = CpuMeter::start(target.pid);
    let bar = Timing {
        warm_up: Duration::ZERO,
        ..timing
    }
    .progress(
        format!("{} fan-out ×{viewers} {rate:.0} chat/s", target.name),
        &recorder,
    );
    let counts = ws_load::fanout(
        sockets,
        sender,
        sale.sale.listing.clone(),
        rate,
        (start, send_end, send_end + DRAIN),
        std::sync::Arc::clone(&recorder),
    )
    .await;
    if let Some(bar) = bar {
        let _ = bar.await;
    }
    let server_cores = cpu.cores();
    let latency = recorder.finish(None);
    let send_s = timing.measure.as_secs_f64();
    let delivered = latency.acked_total as f64 / send_s;
    Ok(Outcome {
        target: target.name.clone(),
        viewers,
        chat_per_s: rate,
        offered_frames_per_s: rate * viewers as f64,
        delivered_frames_per_s: delivered,
        sent: counts.sent,
        dropped: (counts.sent * viewers as u64).saturating_sub(latency.acked_total),
        closed: counts.closed,
        server_cores,
        frames_per_server_core_s: server_cores.map(|c| delivered / c.max(1e-9)),
        latency,
    })
}
