//! The HTTP order client: `connections` keep-alive HTTP/1 connections, one task each, sending
//! one order at a time, closed loop or on an open-loop schedule (see `schedule.rs`).
//!
//! Raw hyper with request parts built once, on the tool's one tokio runtime, so the client takes
//! as little as possible of the cores it may share with the server. Moved here from the old
//! `order_path` bench, which this tool replaces.

use crate::recorder::{Answer, Recorder};
use crate::schedule::{began, Schedule};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::time::{sleep_until, timeout};

/// A request that takes longer counts as an error (`timeout`) and ends its connection.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// What every request of a pass is: one JSON POST, the buyers' tokens taken in turn.
pub struct Orders {
    pub address: SocketAddr,
    pub host: HeaderValue,
    /// `/v1/rooms/{id}/orders`.
    pub uri: Uri,
    pub body: Bytes,
    /// `Bearer <jwt>` values; consecutive requests of a connection use consecutive buyers, and
    /// connections start spread over them, so concurrent orders come from different buyers.
    pub bearers: Vec<HeaderValue>,
    /// The status that acknowledges (201 for an order).
    pub success: StatusCode,
    /// Error codes that are expected answers in this pass (`sold_out` in a sell-out), not errors.
    pub refusals: &'static [&'static str],
}

/// How a pass is driven.
#[derive(Debug, Clone, Copy)]
pub struct Pacing {
    pub connections: usize,
    /// `None`: closed loop. `Some(r)`: open loop at `r` requests per second in all.
    pub rate: Option<f64>,
    /// When the first requests go (connections are opened before it, untimed).
    pub start: Instant,
    /// When no new request is sent any more.
    pub end: Instant,
}

/// Runs one pass on the current runtime: opens every connection, then drives it until
/// `pacing.end`; returns once every connection has finished its last request.
pub async fn run(orders: Arc<Orders>, pacing: Pacing, recorder: Arc<Recorder>) {
    let tasks: Vec<_> = (0..pacing.connections)
        .map(|c| tokio::spawn(connection(Arc::clone(&orders), pacing, c, Arc::clone(&recorder))))
        .collect();
    for task in tasks {
        if let Err(e) = task.await {
            recorder.record(Instant::now(), Instant::now(), Answer::Failed(format!("panic: {e}")));
        }
    }
}

async fn connection(orders: Arc<Orders>, pacing: Pacing, conn: usize, recorder: Arc<Recorder>) {
    let mut sender = match open(orders.address).await {
        Ok(sender) => sender,
        Err(e) => {
            recorder.record(pacing.start, pacing.start, Answer::Failed(format!("connect: {e}")));
            return;
        }
    };
    let schedule = pacing
        .rate
        .map(|r| Schedule::new(pacing.start, r, pacing.connections, conn));
    let mut buyer = conn * orders.bearers.len() / pacing.connections.max(1);
    sleep_until(pacing.start.into()).await;
    for k in 0.. {
        let begun = match schedule {
            None => Instant::now(),
            Some(s) => {
                let Some(due) = s.due_before(k, pacing.end) else { break };
                sleep_until(due.into()).await;
                began(due, Instant::now())
            }
        };
        if begun >= pacing.end {
            break;
        }
        let request = build(&orders, &orders.bearers[buyer]);
        buyer = (buyer + 1) % orders.bearers.len();
        let answer = timeout(REQUEST_TIMEOUT, exchange(&mut sender, request)).await;
        let done = Instant::now();
        let (answer, broken) = match answer {
            Ok(Ok((status, _))) if status == orders.success => (Answer::Acked, false),
            Ok(Ok((status, body))) => (classify(status, &body, orders.refusals), false),
            // The connection is unusable after a protocol or I/O error, or a lost answer.
            Ok(Err(e)) => (Answer::Failed(format!("io: {e}")), true),
            Err(_) => (
                Answer::Failed(format!("timeout: no answer within {REQUEST_TIMEOUT:?}")),
                true,
            ),
        };
        recorder.record(begun, done, answer);
        if broken {
            break;
        }
    }
}

/// A non-acknowledging answer, named `"<status> <error code>"` from the contract's error body.
pub fn classify(status: StatusCode, body: &[u8], refusals: &[&str]) -> Answer {
    let code = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "-".into());
    if refusals.contains(&code.as_str()) {
        Answer::Refused(format!("{} {code}", status.as_u16()))
    } else {
        let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
        Answer::Failed(format!("{} {code}: {text}", status.as_u16()))
    }
}

async fn open(address: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let (sender, driver) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(driver);
    Ok(sender)
}

fn build(orders: &Orders, bearer: &HeaderValue) -> Request<Full<Bytes>> {
    let mut request = Request::new(Full::new(orders.body.clone()));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = orders.uri.clone();
    let headers = request.headers_mut();
    headers.insert(HOST, orders.host.clone());
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// Answers every read on every connection with an empty 201: enough HTTP/1 for one order at
    /// a time per connection.
    async fn answering_201() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let address = listener.local_addr().expect("its address");
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {
                        let answer = b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n";
                        if stream.write_all(answer).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        address
    }

    #[tokio::test]
    async fn an_open_loop_pass_whose_requests_fall_due_after_its_end_ends_with_it() {
        let address = answering_201().await;
        let orders = Arc::new(Orders {
            address,
            host: HeaderValue::from_static("127.0.0.1"),
            uri: Uri::from_static("/v1/rooms/r/orders"),
            body: Bytes::from_static(b"{}"),
            bearers: vec![HeaderValue::from_static("Bearer t")],
            success: StatusCode::CREATED,
            refusals: &[],
        });
        // What a design that acknowledged almost nothing in its closed loop is offered: every
        // connection but the first has its first request due hours after the pass ends.
        let start = Instant::now() + Duration::from_millis(50);
        let recorder = Arc::new(Recorder::new(start, Duration::from_millis(200)));
        let pacing = Pacing {
            connections: 8,
            rate: Some(0.001),
            start,
            end: recorder.end(),
        };
        let ended = tokio::time::timeout(Duration::from_secs(60), run(orders, pacing, Arc::clone(&recorder))).await;
        assert!(ended.is_ok(), "the pass waited for requests due after its end");
        assert_eq!(
            recorder.finish(Some(0.001)).acked_total,
            1,
            "only the first connection's first request was due"
        );
    }

    #[test]
    fn an_expected_refusal_is_counted_by_code_and_anything_else_is_an_error() {
        let body = br#"{"error":"sold_out","message":"nothing left"}"#;
        assert_eq!(
            classify(StatusCode::CONFLICT, body, &["sold_out"]),
            Answer::Refused("409 sold_out".into())
        );
        match classify(StatusCode::CONFLICT, body, &[]) {
            Answer::Failed(why) => assert!(why.starts_with("409 sold_out:"), "{why}"),
            other => panic!("{other:?}"),
        }
        match classify(StatusCode::BAD_GATEWAY, b"<html>", &["sold_out"]) {
            Answer::Failed(why) => assert!(why.starts_with("502 -:"), "{why}"),
            other => panic!("{other:?}"),
        }
    }
}
