//! The WebSocket clients: buyers sending `buy` frames, viewers timing fan-out, idle viewers.
//!
//! Every client is one task on the tool's runtime with small buffers (4 KiB), so a thousand of
//! them stay light beside the server. Frames other than the one a client waits for are skipped
//! by a string search, not parsed.

use crate::recorder::{Answer, Recorder};
use crate::schedule::{began, Schedule};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{sleep_until, timeout};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// At most this many connections are being opened at once, so a crowd of thousands does not
/// overflow the server's accept backlog.
const CONNECTING: usize = 64;

/// A `buy` unanswered this long counts as `timeout` and ends its connection.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// The prefix of the chat text the fan-out sender stamps, and viewers look for.
const STAMP: &str = "\"text\":\"fanout ";

fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(4096)
}

/// `ws://host/v1/rooms/{room}/ws?token=…` for one viewer.
pub fn room_url(base_ws: &str, room: &str, token: &str) -> String {
    format!("{base_ws}/v1/rooms/{room}/ws?token={token}")
}

/// Opens a room WebSocket and reads its `welcome`.
pub async fn join(url: &str) -> anyhow::Result<Socket> {
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(url, Some(config()), true).await?;
    match timeout(ANSWER_TIMEOUT, socket.next()).await {
        Ok(Some(Ok(Message::Text(t)))) if t.starts_with(r#"{"type":"welcome""#) => Ok(socket),
        Ok(other) => anyhow::bail!("the first frame was not a welcome: {other:?}"),
        Err(_) => anyhow::bail!("no welcome within {ANSWER_TIMEOUT:?}"),
    }
}

/// Opens `urls` (at most `CONNECTING` at a time); the sockets that opened, and the first error.
pub async fn join_all(urls: Vec<String>) -> (Vec<Socket>, Option<String>) {
    let results: Vec<_> = futures_util::stream::iter(urls)
        .map(|url| async move { join(&url).await })
        .buffer_unordered(CONNECTING)
        .collect()
        .await;
    let mut sockets = Vec::with_capacity(results.len());
    let mut error = None;
    for r in results {
        match r {
            Ok(s) => sockets.push(s),
            Err(e) => {
                error.get_or_insert(e.to_string());
            }
        }
    }
    (sockets, error)
}

/// What a WebSocket buyer sends.
pub struct Buys {
    pub listing: String,
    pub refusals: &'static [&'static str],
}

/// One pass of `buy` frames: one buyer per socket, one frame in flight each, closed loop or open
/// loop as the HTTP pass.
pub async fn buy(
    sockets: Vec<Socket>,
    buys: Arc<Buys>,
    rate: Option<f64>,
    start: Instant,
    end: Instant,
    recorder: Arc<Recorder>,
) -> Vec<Socket> {
    let n = sockets.len();
    // Request ids are unique in the run: livecart answers a repeated one with the order it made
    // for it (idempotency), which is an acknowledgement but no new sale.
    let pass = uuid::Uuid::new_v4().simple().to_string();
    let tasks: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(c, socket)| {
            let schedule = rate.map(|r| Schedule::new(start, r, n, c));
            let id = format!("{}-{c}", &pass[..8]);
            tokio::spawn(buyer(
                socket,
                Arc::clone(&buys),
                schedule,
                id,
                start,
                end,
                Arc::clone(&recorder),
            ))
        })
        .collect();
    let mut kept = Vec::with_capacity(n);
    for task in tasks {
        match task.await {
            Ok(Some(socket)) => kept.push(socket),
            Ok(None) => {}
            Err(e) => recorder.record(end, end, Answer::Failed(format!("panic: {e}"))),
        }
    }
    kept
}

/// Returns the socket when it is still usable, for the next pass.
async fn buyer(
    mut socket: Socket,
    buys: Arc<Buys>,
    schedule: Option<Schedule>,
    conn: String,
    start: Instant,
    end: Instant,
    recorder: Arc<Recorder>,
) -> Option<Socket> {
    sleep_until(start.into()).await;
    for k in 0.. {
        let begun = match schedule {
            None => Instant::now(),
            Some(s) => {
                let Some(due) = s.due_before(k, end) else { break };
                sleep_until(due.into()).await;
                began(due, Instant::now())
            }
        };
        if begun >= end {
            break;
        }
        let request_id = format!("{conn}-{k}");
        let frame = format!(
            r#"{{"type":"buy","request_id":"{request_id}","listing_id":"{}","quantity":1}}"#,
            buys.listing
        );
        if let Err(e) = socket.send(Message::text(frame)).await {
            recorder.record(begun, Instant::now(), Answer::Failed(format!("io: {e}")));
            return None;
        }
        match timeout(ANSWER_TIMEOUT, answer(&mut socket, &request_id)).await {
            Ok(Ok(reply)) => recorder.record(begun, Instant::now(), classify_order(&reply, buys.refusals)),
            Ok(Err(e)) => {
                recorder.record(begun, Instant::now(), Answer::Failed(format!("io: {e}")));
                return None;
            }
            Err(_) => {
                let why = format!("timeout: no order frame within {ANSWER_TIMEOUT:?}");
                recorder.record(begun, Instant::now(), Answer::Failed(why));
                return None;
            }
        }
    }
    Some(socket)
}

/// Reads until the `order` frame answering `request_id`; other frames (stock, viewers, chat)
/// pass by.
async fn answer(socket: &mut Socket, request_id: &str) -> anyhow::Result<serde_json::Value> {
    let wanted = format!(r#""request_id":"{request_id}""#);
    while let Some(message) = socket.next().await {
        if let Message::Text(text) = message? {
            if text.starts_with(r#"{"type":"order""#) && text.contains(&wanted) {
                return Ok(serde_json::from_str(&text)?);
            }
            if text.starts_with(r#"{"type":"error""#) {
                anyhow::bail!("error frame: {text}");
            }
        }
    }
    anyhow::bail!("the server closed the connection")
}

/// An `order` frame: an order acknowledges, an error names its code.
pub fn classify_order(reply: &serde_json::Value, refusals: &[&str]) -> Answer {
    if reply["order"]["id"].is_string() {
        return Answer::Acked;
    }
    let code = reply["error"]["error"].as_str().unwrap_or("-");
    if refusals.contains(&code) {
        Answer::Refused(format!("ws {code}"))
    } else {
        Answer::Failed(format!("ws {code}: {reply}"))
    }
}

/// When the process began, for stamps both the sender and the viewers read.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Microseconds since `epoch()`.
fn stamp(at: Instant) -> u64 {
    at.saturating_duration_since(epoch()).as_micros() as u64
}

/// The chat frame's stamp, found by a string search: `"text":"fanout <µs>"`.
pub fn stamp_of(frame: &str) -> Option<u64> {
    let rest = &frame[frame.find(STAMP)? + STAMP.len()..];
    let digits = &rest[..rest.find(|c: char| !c.is_ascii_digit())?];
    digits.parse().ok()
}

/// What a fan-out pass counted besides the latencies.
#[derive(Debug, Default)]
pub struct FanoutCounts {
    pub sent: u64,
    /// Viewers the server closed (or whose connection failed) during the pass.
    pub closed: u64,
}

/// Fan-out: `viewers` read; `sender` posts a stamped chat frame on a fixed schedule at `rate`
/// per second from `start` to `send_end`, with a like and a `buy` every tenth frame, so stock,
/// likes and chat all flow. Every viewer times every chat frame until `drain_end`.
pub async fn fanout(
    viewers: Vec<Socket>,
    sender: Socket,
    listing: String,
    rate: f64,
    (start, send_end, drain_end): (Instant, Instant, Instant),
    recorder: Arc<Recorder>,
) -> FanoutCounts {
    epoch();
    let closed = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = viewers
        .into_iter()
        .map(|socket| tokio::spawn(view(socket, drain_end, Arc::clone(&recorder), Arc::clone(&closed))))
        .collect();
    let (mut sink, stream) = sender.split();
    let drain = tokio::spawn(discard(stream, drain_end));
    let schedule = Schedule::new(start, rate, 1, 0);
    let mut sent = 0;
    for k in 0.. {
        let due = schedule.due(k);
        if due >= send_end {
            break;
        }
        sleep_until(due.into()).await;
        let chat = format!(r#"{{"type":"chat","text":"fanout {} load tool"}}"#, stamp(due));
        if send(&mut sink, chat).await.is_err() {
            break;
        }
        sent += 1;
        if k % 10 == 0 {
            let like = r#"{"type":"like","count":1}"#.to_owned();
            let buy = format!(r#"{{"type":"buy","request_id":"f{k}","listing_id":"{listing}","quantity":1}}"#);
            if send(&mut sink, like).await.is_err() || send(&mut sink, buy).await.is_err() {
                break;
            }
        }
    }
    for r in readers {
        let _ = r.await;
    }
    let _ = drain.await;
    let _ = sink.close().await;
    FanoutCounts {
        sent,
        closed: closed.load(Ordering::Relaxed),
    }
}

async fn send(sink: &mut SplitSink<Socket, Message>, text: String) -> Result<(), ()> {
    sink.send(Message::text(text)).await.map_err(drop)
}

async fn discard(mut stream: SplitStream<Socket>, until: Instant) {
    let _ = timeout(until.saturating_duration_since(Instant::now()), async {
        while let Some(Ok(_)) = stream.next().await {}
    })
    .await;
}

async fn view(mut socket: Socket, until: Instant, recorder: Arc<Recorder>, closed: Arc<AtomicU64>) {
    let read = async {
        while let Some(message) = socket.next().await {
            match message {
                Ok(Message::Text(text)) => {
                    if let Some(us) = stamp_of(&text) {
                        recorder.delivered(epoch() + Duration::from_micros(us), Instant::now());
                    }
                }
                Ok(Message::Close(_)) | Err(_) => {
                    closed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Ok(_) => {}
            }
        }
        closed.fetch_add(1, Ordering::Relaxed);
    };
    let _ = timeout(until.saturating_duration_since(Instant::now()), read).await;
    let _ = socket.close(None).await;
}

/// Idle viewers: each reads (answering the server's pings) until `stop` turns true; returns how
/// many the server closed meanwhile.
pub async fn hold(sockets: Vec<Socket>, stop: watch::Receiver<bool>) -> u64 {
    let tasks: Vec<_> = sockets
        .into_iter()
        .map(|mut socket| {
            let mut stop = stop.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = stop.changed() => {
                            let _ = socket.close(None).await;
                            return 0;
                        }
                        m = socket.next() => match m {
                            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return 1,
                            Some(Ok(_)) => {}
                        },
                    }
                }
            })
        })
        .collect();
    let mut closed = 0;
    for t in tasks {
        closed += t.await.unwrap_or(1);
    }
    closed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_frame_yields_its_stamp_and_other_frames_none() {
        let frame =
            r#"{"type":"chat","offset":3,"user_id":"u","nickname":"n","text":"fanout 123456 load tool","at":"x"}"#;
        assert_eq!(stamp_of(frame), Some(123_456));
        assert_eq!(stamp_of(r#"{"type":"likes","total":3}"#), None);
        assert_eq!(stamp_of(r#"{"type":"chat","text":"fanout "}"#), None);
    }

    #[test]
    fn an_order_frame_acknowledges_and_an_error_frame_is_named_by_code() {
        let ok = serde_json::json!({"type": "order", "request_id": "1-0", "order": {"id": "o"}});
        assert_eq!(classify_order(&ok, &[]), Answer::Acked);
        let refused =
            serde_json::json!({"type": "order", "request_id": "1-1", "error": {"error": "sold_out", "message": "m"}});
        assert_eq!(
            classify_order(&refused, &["sold_out"]),
            Answer::Refused("ws sold_out".into())
        );
        assert!(matches!(classify_order(&refused, &[]), Answer::Failed(w) if w.starts_with("ws sold_out:")));
    }
}
