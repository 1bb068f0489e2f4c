//! The WebSocket load client: `connections` room WebSockets, each with one frame in flight at a
//! time (closed loop, as `load` drives HTTP), on client threads of their own, every round trip in
//! an HDR histogram.

use crate::load::Plan;
use crate::Sale;
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use std::time::Duration;
use tokio::time::{sleep_until, timeout, Instant};
use tokio_tungstenite::tungstenite::Message;

/// An answer that takes longer fails the pass: nothing healthy on loopback is that slow.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// Time to open every connection before the pass starts, so connecting is never timed.
const CONNECT_LEAD: Duration = Duration::from_millis(500);

/// What each connection sends, and which frame answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exchange {
    /// `{"type":"ping"}` → `{"type":"pong"}`: the WebSocket path without the order.
    Ping,
    /// `{"type":"buy",…}` → `{"type":"order",…}` with an order, not an error.
    Buy,
}

pub struct SocketOutcome {
    pub succeeded: u64,
    pub failures: u64,
    pub first_failure: Option<String>,
    measure: Duration,
    latency_us: Histogram<u64>,
}

impl SocketOutcome {
    fn empty(measure: Duration) -> Self {
        Self {
            succeeded: 0,
            failures: 0,
            first_failure: None,
            measure,
            latency_us: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds"),
        }
    }

    pub fn per_second(&self) -> f64 {
        self.succeeded as f64 / self.measure.as_secs_f64()
    }

    pub fn quantile_ms(&self, q: f64) -> f64 {
        self.latency_us.value_at_quantile(q) as f64 / 1000.0
    }

    fn fail(&mut self, why: String) {
        self.failures += 1;
        self.first_failure.get_or_insert(why);
    }

    fn merge(&mut self, other: SocketOutcome) {
        self.succeeded += other.succeeded;
        self.failures += other.failures;
        self.first_failure = self.first_failure.take().or(other.first_failure);
        self.latency_us.add(&other.latency_us).expect("same bounds");
    }
}

/// Runs one pass on `plan.client_threads` threads and waits for it.
pub async fn run(sale: &Sale, exchange: Exchange, plan: Plan) -> SocketOutcome {
    let urls: Vec<String> = sale.tokens[..plan.connections]
        .iter()
        .map(|t| sale.socket_url(t))
        .collect();
    let listing = sale.listing;
    let threads = plan.client_threads.clamp(1, plan.connections);
    let start = std::time::Instant::now() + CONNECT_LEAD;
    // A fresh prefix per pass keeps request ids (idempotency keys) unique across passes.
    let pass = uuid::Uuid::new_v4().simple().to_string();
    actix_web::rt::task::spawn_blocking(move || {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let mine: Vec<(usize, String)> =
                        urls.iter().cloned().enumerate().skip(t).step_by(threads).collect();
                    let pass = pass.clone();
                    scope.spawn(move || {
                        let runtime = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .expect("a client runtime");
                        runtime.block_on(async move {
                            let start = Instant::from_std(start);
                            let conns = mine.into_iter().map(|(c, url)| {
                                let prefix = format!("{pass}-{c}");
                                connection(url, exchange, listing, prefix, plan, start)
                            });
                            futures_util::future::join_all(conns).await
                        })
                    })
                })
                .collect();
            let mut total = SocketOutcome::empty(plan.measure);
            for handle in handles {
                for outcome in handle.join().expect("a client thread did not panic") {
                    total.merge(outcome);
                }
            }
            total
        })
    })
    .await
    .expect("the client threads did not panic")
}

async fn connection(
    url: String,
    exchange: Exchange,
    listing: uuid::Uuid,
    prefix: String,
    plan: Plan,
    start: Instant,
) -> SocketOutcome {
    let mut outcome = SocketOutcome::empty(plan.measure);
    // TCP_NODELAY, as `load` sets it for HTTP: one small frame per round trip either way.
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
        .await
        .expect("the server accepts the connection");
    let warm_end = start + plan.warm_up;
    let end = warm_end + plan.measure;
    sleep_until(start).await;
    let mut n = 0u64;
    loop {
        let began = Instant::now();
        if began >= end {
            break;
        }
        let frame = match exchange {
            Exchange::Ping => r#"{"type":"ping"}"#.to_owned(),
            Exchange::Buy => {
                n += 1;
                format!(r#"{{"type":"buy","request_id":"{prefix}-{n}","listing_id":"{listing}","quantity":1}}"#)
            }
        };
        if let Err(e) = socket.send(Message::text(frame)).await {
            outcome.fail(format!("send: {e}"));
            break;
        }
        match timeout(ANSWER_TIMEOUT, answer(&mut socket, exchange)).await {
            Ok(Ok(())) => {
                let done = Instant::now();
                if began >= warm_end && done <= end {
                    outcome.succeeded += 1;
                    let us = (done - began).as_micros().clamp(1, 60_000_000);
                    outcome.latency_us.saturating_record(us as u64);
                }
            }
            Ok(Err(why)) => {
                outcome.fail(why);
                break;
            }
            Err(_) => {
                outcome.fail(format!("no answer within {ANSWER_TIMEOUT:?}"));
                break;
            }
        }
    }
    let _ = socket.close(None).await;
    outcome
}

/// Reads up to the frame that answers `exchange`, skipping broadcasts (stock, viewers).
async fn answer<S>(socket: &mut S, exchange: Exchange) -> Result<(), String>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let text = match socket.next().await {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(frame))) => return Err(format!("closed: {frame:?}")),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("the connection ended".into()),
        };
        match exchange {
            Exchange::Ping if text.as_str() == r#"{"type":"pong"}"# => return Ok(()),
            Exchange::Buy if text.starts_with(r#"{"type":"order""#) => {
                return if text.contains(r#""order":{"#) {
                    Ok(())
                } else {
                    Err(text.to_string())
                };
            }
            _ => {}
        }
    }
}
