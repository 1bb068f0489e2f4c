//! The load client: `connections` keep-alive HTTP/1 connections to one loopback server, each
//! sending one request at a time, with every latency in an HDR histogram.
//!
//! Two pacings. Closed loop: a connection sends its next request as soon as the last one is
//! answered, which finds the peak. Open loop: requests fall due on a fixed schedule whether or not
//! the server kept up, and a request sent late because the connection was still waiting is timed
//! from when it fell due, so a stall shows in the tail instead of hiding in a lower send rate
//! (coordinated omission). The client is raw hyper on its own threads, with prebuilt request
//! parts, so that it takes as little as possible of the two cores it shares with the server.

use actix_web::rt::net::TcpStream;
use actix_web::rt::time::{sleep_until, timeout, Instant};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// A request that takes longer fails the pass: nothing healthy on loopback is that slow.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Time to open every connection before the pass starts, so connecting is never timed.
const CONNECT_LEAD: Duration = Duration::from_millis(300);

/// Latencies are kept in microseconds, up to a minute, to 3 significant digits.
const MAX_LATENCY_US: u64 = 60_000_000;

/// What every request of a pass is: one JSON POST, with the buyers' tokens taken in turn.
pub struct Target {
    pub address: SocketAddr,
    /// The request target, `/echo` or `/v1/rooms/{id}/orders`.
    pub uri: Uri,
    pub body: Bytes,
    /// `Bearer <jwt>` values; connection `c`'s `n`th request uses one, spread so that
    /// concurrent requests come from different buyers.
    pub bearers: Vec<HeaderValue>,
    /// The only status that counts as success; anything else fails the pass.
    pub success: StatusCode,
}

/// How one pass drives the target.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub connections: usize,
    pub client_threads: usize,
    pub warm_up: Duration,
    pub measure: Duration,
    /// `None`: closed loop. `Some(r)`: open loop at `r` requests per second in all.
    pub rate: Option<f64>,
}

/// What a pass measured. Only requests sent after the warm-up and answered before the end count
/// toward the rate and the histogram; `succeeded_total` counts every success, warm-up included,
/// so the caller can check it against the stock the server says it sold.
pub struct Outcome {
    pub plan: Plan,
    pub succeeded: u64,
    pub succeeded_total: u64,
    pub failures: u64,
    pub first_failure: Option<String>,
    pub latency_us: Histogram<u64>,
}

impl Outcome {
    pub fn per_second(&self) -> f64 {
        self.succeeded as f64 / self.plan.measure.as_secs_f64()
    }

    pub fn quantile_ms(&self, q: f64) -> f64 {
        self.latency_us.value_at_quantile(q) as f64 / 1000.0
    }

    pub fn max_ms(&self) -> f64 {
        self.latency_us.max() as f64 / 1000.0
    }

    fn empty(plan: Plan) -> Outcome {
        Outcome {
            plan,
            succeeded: 0,
            succeeded_total: 0,
            failures: 0,
            first_failure: None,
            latency_us: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .expect("1 µs to 1 min at 3 digits are valid bounds"),
        }
    }

    fn merge(&mut self, other: Outcome) {
        self.succeeded += other.succeeded;
        self.succeeded_total += other.succeeded_total;
        self.failures += other.failures;
        self.first_failure = self.first_failure.take().or(other.first_failure);
        self.latency_us
            .add(&other.latency_us)
            .expect("histograms of one pass share their bounds");
    }

    fn fail(&mut self, why: String) {
        self.failures += 1;
        self.first_failure.get_or_insert(why);
    }
}

/// Runs one pass and waits for it; bounded by the plan's time plus one request timeout.
pub async fn run(target: Arc<Target>, plan: Plan) -> Outcome {
    // Joined on a blocking thread, so the System's own thread (the echo server's task, the
    // bench's setup requests) is never blocked while the pass runs.
    actix_web::rt::task::spawn_blocking(move || run_on_threads(&target, plan))
        .await
        .expect("the client threads did not panic")
}

fn run_on_threads(target: &Arc<Target>, plan: Plan) -> Outcome {
    let start = std::time::Instant::now() + CONNECT_LEAD;
    let threads = plan.client_threads.clamp(1, plan.connections);
    let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let target = Arc::clone(target);
                let thread = std::thread::Builder::new().name(format!("bench-client-{t}"));
                let spawned = thread.spawn_scoped(scope, move || {
                    let runtime = actix_web::rt::Runtime::new().expect("a client runtime");
                    runtime.block_on(async move {
                        let start = Instant::from_std(start);
                        let mine = (t..plan.connections).step_by(threads);
                        let conns = mine.map(|c| connection(&target, plan, c, start));
                        futures_util::future::join_all(conns).await
                    })
                });
                spawned.expect("a client thread starts")
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a client thread did not panic"))
            .collect()
    });
    let mut total = Outcome::empty(plan);
    for outcome in outcomes {
        total.merge(outcome);
    }
    total
}

/// One connection's share of the pass.
async fn connection(target: &Target, plan: Plan, conn: usize, start: Instant) -> Outcome {
    let mut outcome = Outcome::empty(plan);
    let stream = TcpStream::connect(target.address)
        .await
        .expect("the server accepts connections");
    stream.set_nodelay(true).expect("TCP_NODELAY can be set");
    let (mut sender, driver) = http1::handshake(TokioIo::new(stream))
        .await
        .expect("an HTTP/1 connection");
    actix_web::rt::spawn(driver);

    let host = HeaderValue::from_str(&target.address.to_string()).expect("an address is a valid Host");
    let warm_end = start + plan.warm_up;
    let end = warm_end + plan.measure;
    let every = plan.rate.map(|r| Duration::from_secs_f64(plan.connections as f64 / r));
    // Connections are staggered evenly inside one interval, so the schedule is smooth.
    let offset = every.map_or(Duration::ZERO, |e| e.mul_f64(conn as f64 / plan.connections as f64));
    let mut due = start + offset;
    let mut buyer = conn * target.bearers.len() / plan.connections;
    sleep_until(due).await;
    loop {
        let began = match every {
            None => Instant::now(),
            Some(every) => {
                let now = Instant::now();
                // On time: timed from the (timer-rounded) send; late: from when it fell due.
                let began = if due > now {
                    sleep_until(due).await;
                    Instant::now()
                } else {
                    due
                };
                due += every;
                began
            }
        };
        if began >= end {
            break;
        }
        let request = build(target, &host, &target.bearers[buyer]);
        buyer = (buyer + 1) % target.bearers.len();
        let answer = timeout(REQUEST_TIMEOUT, exchange(&mut sender, request)).await;
        let done = Instant::now();
        match answer {
            Ok(Ok((status, _))) if status == target.success => {
                outcome.succeeded_total += 1;
                if began >= warm_end && done <= end {
                    outcome.succeeded += 1;
                    let us = (done - began).as_micros().clamp(1, MAX_LATENCY_US.into());
                    outcome.latency_us.saturating_record(us as u64);
                }
            }
            Ok(Ok((status, body))) => {
                outcome.fail(format!("{status}: {}", String::from_utf8_lossy(&body)));
            }
            Ok(Err(e)) => {
                // The connection is unusable after a protocol or I/O error.
                outcome.fail(format!("connection {conn} failed: {e}"));
                break;
            }
            Err(_) => {
                outcome.fail(format!("no answer within {REQUEST_TIMEOUT:?}"));
                break;
            }
        }
    }
    outcome
}

fn build(target: &Target, host: &HeaderValue, bearer: &HeaderValue) -> Request<Full<Bytes>> {
    let mut request = Request::new(Full::new(target.body.clone()));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = target.uri.clone();
    let headers = request.headers_mut();
    headers.insert(HOST, host.clone());
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(AUTHORIZATION, bearer.clone());
    request
}

/// Sends one request and reads the whole answer, so the connection is ready for the next.
async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    request: Request<Full<Bytes>>,
) -> Result<(StatusCode, Bytes), hyper::Error> {
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}
