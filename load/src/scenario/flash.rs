//! The flash sale: orders for one hot listing, per connection count: over HTTP keep-alive,
//! closed loop (the peak), then open loop at a fraction of that peak (the latency with
//! headroom); on livecart the same again with WebSocket `buy` frames. Then a sell-out pass on a
//! small listing with more demand than stock, and the gates on both listings.

use super::pass::{CpuMeter, PassReport, Timing};
use crate::gate::{self, Gate};
use crate::http_load::{self, Orders, Pacing};
use crate::metrics::ServerFigures;
use crate::recorder::{Figures, Recorder};
use crate::setup::Sale;
use crate::target::{Prepared, Target};
use crate::ws_load::{self, Buys};
use anyhow::Context;
use hyper::body::Bytes;
use hyper::header::HeaderValue;
use hyper::{StatusCode, Uri};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Expected answers once a listing is gone or a buyer holds their limit.
const SELLOUT_REFUSALS: &[&str] = &["sold_out", "limit_exceeded"];

/// The sell-out listing's per-buyer limit: small, so buyers meet it during the pass.
const SELLOUT_LIMIT: u64 = 2;

/// At most this many one-second sell-out passes.
const SELLOUT_PASSES: usize = 15;

/// How a flash sale runs on every target.
#[derive(Debug, Clone)]
pub struct Plan {
    pub connections: Vec<usize>,
    pub open_fraction: f64,
    pub sellout_stock: u64,
    pub timing: Timing,
}

/// What the flash sale found on one target.
#[derive(Debug, Default, serde::Serialize)]
pub struct Outcome {
    pub passes: Vec<PassReport>,
    pub gates: Vec<Gate>,
}

pub async fn run(target: &mut Target, hot: &Prepared, plan: &Plan) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome::default();
    for &connections in &plan.connections {
        let orders = orders(target, &hot.sale, &hot.buyers, &[]).await?;
        let peak = http(target, &orders, connections, None, plan).await;
        let rate = peak.figures.per_s * plan.open_fraction;
        let open = http(target, &orders, connections, Some(rate), plan).await;
        outcome.passes.extend([peak, open]);
        if target.is_livecart() {
            outcome.passes.extend(ws(target, hot, connections, plan).await?);
        }
    }
    if target.is_gated() {
        let acked = outcome.passes.iter().map(|p| p.figures.acked_total).sum();
        let mut counts = read_back(target, hot, acked).await?;
        counts.unanswered = outcome.passes.iter().map(|p| p.figures.unanswered_total).sum();
        outcome.gates.extend(gate::check(&counts));
        if plan.sellout_stock > 0 {
            let (pass, gates) = sellout(target, hot.buyers.len(), plan).await?;
            outcome.passes.push(pass);
            outcome.gates.extend(gates);
        }
    }
    Ok(outcome)
}

/// The stored side of a sale, read back until it holds every acknowledged unit (a server may
/// store rows a moment after it answers) or a few seconds have passed: then the gates judge.
async fn read_back(target: &Target, sale: &Prepared, acked: u64) -> anyhow::Result<gate::Counts> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let counts = target.counts(&sale.sale, &sale.buyers, acked).await?;
        if counts.row_units >= acked || std::time::Instant::now() > deadline {
            return Ok(counts);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A small listing, more buyers than units, one closed-loop pass of a second: it must sell out
/// exactly, every buyer within the limit.
async fn sellout(target: &mut Target, buyers: usize, plan: &Plan) -> anyhow::Result<(PassReport, Vec<Gate>)> {
    // More demand than stock, or "sold out exactly" could not hold.
    let buyers = buyers.max((plan.sellout_stock / SELLOUT_LIMIT) as usize + 1);
    let sale = target.prepare(plan.sellout_stock, SELLOUT_LIMIT, buyers).await?;
    let orders = orders(target, &sale.sale, &sale.buyers, SELLOUT_REFUSALS).await?;
    let connections = plan.connections.first().copied().unwrap_or(64);
    let timing = Timing {
        warm_up: Duration::ZERO,
        measure: Duration::from_secs(1),
        ..plan.timing
    };
    // Passes of a second until nothing is left: a slow design takes several.
    let mut acked = 0;
    let mut figures = None;
    for _ in 0..SELLOUT_PASSES {
        let start = timing.start(connections);
        let recorder = timing.recorder(start);
        let pacing = Pacing {
            connections,
            rate: None,
            start,
            end: recorder.end(),
        };
        http_load::run(Arc::clone(&orders), pacing, Arc::clone(&recorder)).await;
        let pass = recorder.finish(None);
        acked += pass.acked_total;
        let sold_out = pass.refused.keys().any(|code| code.ends_with("sold_out"));
        figures = Some(merge(figures, pass));
        if sold_out {
            break;
        }
    }
    let figures = figures.context("at least one sell-out pass")?;
    let mut counts = read_back(target, &sale, acked).await?;
    counts.unanswered = figures.unanswered_total;
    let mut gates: Vec<Gate> = gate::check(&counts)
        .into_iter()
        .map(|g| Gate {
            name: sellout_name(g.name),
            ..g
        })
        .collect();
    gates.push(Gate {
        name: "sell-out: sold out exactly",
        ..gate::sold_out(&counts)
    });
    // Errors (a 503 says nothing was acknowledged) are not a gate; the table shows them.
    let pass = PassReport {
        target: target.name.clone(),
        transport: "http",
        connections,
        pacing: "sell-out",
        figures,
        server: None,
        server_cores: None,
    };
    Ok((pass, gates))
}

/// The sell-out's passes as one line of the table: their acknowledgements and refusals added,
/// the latency figures of the first (the rush, before the stock ran out).
fn merge(first: Option<Figures>, next: Figures) -> Figures {
    let Some(mut f) = first else {
        return next;
    };
    f.acked += next.acked;
    f.acked_total += next.acked_total;
    f.unanswered_total += next.unanswered_total;
    f.per_s = f.acked as f64 / (f.measure_s + next.measure_s);
    f.measure_s += next.measure_s;
    for (code, n) in next.refused {
        *f.refused.entry(code).or_default() += n;
    }
    for (code, n) in next.errors {
        *f.errors.entry(code).or_default() += n;
    }
    f.first_error = f.first_error.or(next.first_error);
    f
}

fn sellout_name(name: &'static str) -> &'static str {
    match name {
        "acknowledged == units sold" => "sell-out: acknowledged == units sold",
        "units sold == stored rows" => "sell-out: units sold == stored rows",
        "nobody over the limit" => "sell-out: nobody over the limit",
        _ => "sell-out: nothing oversold",
    }
}

async fn orders(
    target: &Target,
    sale: &Sale,
    buyers: &[String],
    refusals: &'static [&'static str],
) -> anyhow::Result<Arc<Orders>> {
    let url: url::Url = target.base.parse().context("the target's URL")?;
    let host = url.host_str().context("the target's host")?;
    let port = url.port_or_known_default().context("the target's port")?;
    let address: SocketAddr = tokio::net::lookup_host((host, port))
        .await?
        .next()
        .context("the target's address")?;
    let bearers = buyers
        .iter()
        .map(|t| HeaderValue::from_str(&format!("Bearer {t}")))
        .collect::<Result<Vec<_>, _>>()?;
    anyhow::ensure!(!bearers.is_empty(), "no buyers");
    Ok(Arc::new(Orders {
        address,
        host: HeaderValue::from_str(&format!("{host}:{port}"))?,
        uri: Uri::try_from(format!("/v1/rooms/{}/orders", sale.room))?,
        body: Bytes::from(serde_json::json!({"listing_id": sale.listing, "quantity": 1}).to_string()),
        bearers,
        success: StatusCode::CREATED,
        refusals,
    }))
}

async fn http(target: &Target, orders: &Arc<Orders>, connections: usize, rate: Option<f64>, plan: &Plan) -> PassReport {
    let timing = plan.timing;
    let before = target.metrics().await;
    let cpu = CpuMeter::start(target.pid);
    let start = timing.start(connections);
    let recorder = timing.recorder(start);
    let label = label(target, "http", connections, rate);
    let bar = timing.progress(label, &recorder);
    let pacing = Pacing {
        connections,
        rate,
        start,
        end: recorder.end(),
    };
    http_load::run(Arc::clone(orders), pacing, Arc::clone(&recorder)).await;
    if let Some(bar) = bar {
        let _ = bar.await;
    }
    report(target, "http", connections, rate, &recorder, before, cpu).await
}

/// The WebSocket passes at one connection count: one buyer per socket, closed then open loop.
async fn ws(target: &Target, hot: &Prepared, connections: usize, plan: &Plan) -> anyhow::Result<Vec<PassReport>> {
    let urls = (0..connections)
        .map(|c| ws_load::room_url(&target.ws_base(), &hot.sale.room, &hot.buyers[c % hot.buyers.len()]))
        .collect();
    let (mut sockets, error) = ws_load::join_all(urls).await;
    if let Some(e) = error {
        anyhow::bail!(
            "{} of {connections} WebSocket buyers could not join: {e}",
            connections - sockets.len()
        );
    }
    let buys = Arc::new(Buys {
        listing: hot.sale.listing.clone(),
        refusals: &[],
    });
    let mut passes = Vec::new();
    let mut rate = None;
    for _ in 0..2 {
        let before = target.metrics().await;
        let cpu = CpuMeter::start(target.pid);
        let start = plan.timing.start(0);
        let recorder = plan.timing.recorder(start);
        let bar = plan.timing.progress(label(target, "ws", connections, rate), &recorder);
        sockets = ws_load::buy(
            sockets,
            Arc::clone(&buys),
            rate,
            start,
            recorder.end(),
            Arc::clone(&recorder),
        )
        .await;
        if let Some(bar) = bar {
            let _ = bar.await;
        }
        let pass = report(target, "ws", connections, rate, &recorder, before, cpu).await;
        rate = Some(pass.figures.per_s * plan.open_fraction);
        passes.push(pass);
    }
    for mut socket in sockets {
        let _ = socket.close(None).await;
    }
    Ok(passes)
}

fn label(target: &Target, transport: &str, connections: usize, rate: Option<f64>) -> String {
    let pacing = rate.map_or("closed".to_owned(), |r| format!("open {r:.0}/s"));
    format!("{} {transport} ×{connections} {pacing}", target.name)
}

async fn report(
    target: &Target,
    transport: &'static str,
    connections: usize,
    rate: Option<f64>,
    recorder: &Recorder,
    before: Option<String>,
    cpu: CpuMeter,
) -> PassReport {
    let server_cores = cpu.cores();
    let after = target.metrics().await;
    let server = match (before, after) {
        (Some(b), Some(a)) => Some(ServerFigures::parse(&a).since(ServerFigures::parse(&b))),
        _ => None,
    };
    PassReport {
        target: target.name.clone(),
        transport,
        connections,
        pacing: if rate.is_some() { "open" } else { "closed" },
        figures: recorder.finish(rate),
        server,
        server_cores,
    }
}
