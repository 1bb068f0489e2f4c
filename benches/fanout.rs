//! The bench behind DESIGN.md's fan-out target: `cargo bench --bench fanout`.
//!
//! The target: fan-out delivers ≥ 50k frames per second per core with p99 under 200 ms, at
//! ≤ 10 KiB per idle viewer. So, in one process, this starts livecart on a fresh SQLite file
//! (the order bench's `shop`: test settings, rate limits off, a merchant, a live room and guest
//! viewers, all through the public API) and then, over real WebSockets on 127.0.0.1:
//!
//! 1. idle memory: the process's VmRSS before and after `LIVECART_BENCH_IDLE_VIEWERS` (2,000)
//!    viewers connect and read their welcome. Client and server share the process, so this is an
//!    upper bound on the server's share; the same number of the same client connections to a
//!    trivial tokio-tungstenite server, measured the same way, bounds the client's share;
//! 2. throughput and latency, once per rate in `LIVECART_BENCH_RATES` (chat messages per second;
//!    20,100,400,1600): `LIVECART_BENCH_VIEWERS` (1,000) fresh viewers, and one more connection that
//!    posts chat frames on a fixed schedule for `LIVECART_BENCH_SECONDS` (5), each carrying the
//!    time it fell due. Every viewer reads in its own task and records receive time − due time.
//!    Frames offered per second are rate × viewers; chat is droppable, so what did not arrive
//!    was dropped by a server (or a client) that could not keep up.
//!
//! The viewers' client shares the machine's cores with the server, as DESIGN.md's targets
//! demand. "Per core" is delivered frames per second over the machine's cores; beside it, the
//! process's CPU time over each pass gives frames per CPU-second, client included. Every pass
//! is bounded in time and count, and the bench stops by itself.

// The in-process shop lives beside this file; its database is the load tool's.
#[path = "fanout/shop.rs"]
mod shop;

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use livecart_load::database::Database;
use shop::Shop;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Time after the last chat frame is sent during which viewers still count what arrives: far
/// above the 200 ms target, so a late frame counts as late, not as dropped.
const DRAIN: Duration = Duration::from_secs(1);

/// Time given to the server after viewers join (viewer counts flush every 200 ms) or leave,
/// so one phase's bookkeeping does not land in the next one's figures.
const SETTLE: Duration = Duration::from_secs(1);

/// Connections opened at once: enough to connect thousands in a second or two, few enough not
/// to overflow the listen backlog.
const CONNECTING: usize = 32;

/// The DESIGN.md target, per core.
const TARGET_PER_CORE: f64 = 50_000.0;
const TARGET_P99_MS: f64 = 200.0;
const TARGET_IDLE_KIB: f64 = 10.0;

#[derive(Debug, Clone)]
struct Plan {
    idle_viewers: usize,
    viewers: usize,
    rates: Vec<u32>,
    seconds: u64,
}

fn main() {
    let plan = Plan {
        idle_viewers: env_number("LIVECART_BENCH_IDLE_VIEWERS", 2_000),
        viewers: env_number("LIVECART_BENCH_VIEWERS", 1_000),
        rates: env_list("LIVECART_BENCH_RATES", &[20, 100, 400, 1600]),
        seconds: env_number("LIVECART_BENCH_SECONDS", 5) as u64,
    };
    // Two client threads on two cores: the viewers' decoding competes with the server, as the
    // targets require, without one client thread becoming the bottleneck.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bench-viewers")
        .enable_all()
        .build()
        .expect("the client's runtime starts");
    runtime.block_on(run(plan));
}

async fn run(plan: Plan) {
    livecart::telemetry::init_with_default("warn", livecart::settings::LogFormat::Text);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "fanout: {cores} cores, {} idle viewers, {} viewers per pass, rates {:?}/s, {} s per pass",
        plan.idle_viewers, plan.viewers, plan.rates, plan.seconds
    );
    // One guest per viewer (the room counts distinct users) and one for the sender.
    let guests = plan.idle_viewers.max(plan.viewers) + 1;
    let shop = Shop::open(Database::sqlite().expect("a fresh SQLite file"), guests).await;
    let (sender_token, viewer_tokens) = shop.buyer_tokens.split_last().expect("at least one guest");

    let idle = idle_memory(&shop, &viewer_tokens[..plan.idle_viewers]).await;
    let mut passes = Vec::new();
    for &rate in &plan.rates {
        passes.push(fan_out(&shop, &viewer_tokens[..plan.viewers], sender_token, rate, plan.seconds).await);
        tokio::time::sleep(SETTLE).await;
    }
    shop.close().await;

    println!();
    idle.report();
    println!();
    report(&passes, cores);
    for pass in &passes {
        assert!(
            pass.sender_errors == 0,
            "the server refused {} chat frame(s) at {}/s: are rate limits on?",
            pass.sender_errors,
            pass.rate
        );
    }
}

/// What idle viewers cost in resident memory, in KiB per viewer.
struct IdleMemory {
    viewers: usize,
    /// livecart's server side and the client side of each connection.
    livecart_kib: f64,
    /// A trivial tokio-tungstenite server's side and the same client side.
    baseline_kib: f64,
}

impl IdleMemory {
    fn report(&self) {
        let n = self.viewers as f64;
        let server_low = (self.livecart_kib - self.baseline_kib).max(0.0);
        println!("idle viewers: {}", self.viewers);
        println!(
            "  livecart, server + client:       {:>8.1} KiB per viewer ({:.1} MiB in all)",
            self.livecart_kib,
            self.livecart_kib * n / 1024.0
        );
        println!(
            "  trivial server + same client:    {:>8.1} KiB per viewer (bounds the client's share)",
            self.baseline_kib
        );
        println!(
            "  livecart's server side:          {server_low:.1} ..= {:.1} KiB per viewer (target ≤ {TARGET_IDLE_KIB} KiB)",
            self.livecart_kib
        );
    }
}

/// Connects idle viewers to livecart and measures the growth of VmRSS; then, with those still
/// connected (so that neither measure reuses memory the other freed), connects as many of the
/// same clients to a trivial WebSocket server that sends the same welcome, and measures again.
async fn idle_memory(shop: &Shop, tokens: &[String]) -> IdleMemory {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let before = rss_kib();
    let urls = tokens.iter().map(|t| viewer_url(shop, t)).collect();
    let (viewers, welcome) = connect_all(urls).await;
    let viewers = watch_all(viewers, &stopped);
    tokio::time::sleep(SETTLE).await;
    let with_livecart = rss_kib();

    let (address, server) = trivial_server(welcome).await;
    let urls = (0..tokens.len()).map(|_| format!("ws://{address}/")).collect();
    let (clients, _) = connect_all(urls).await;
    let clients = watch_all(clients, &stopped);
    tokio::time::sleep(SETTLE).await;
    let with_baseline = rss_kib();

    stop.send(true).expect("the idle viewers still listen");
    for task in viewers.into_iter().chain(clients) {
        let tally = task.await.expect("an idle viewer's task ends cleanly");
        assert!(tally.closed.is_none(), "an idle viewer was closed: {:?}", tally.closed);
    }
    server.abort();
    tokio::time::sleep(SETTLE).await;
    let n = tokens.len() as f64;
    IdleMemory {
        viewers: tokens.len(),
        livecart_kib: (with_livecart - before) as f64 / n,
        baseline_kib: (with_baseline - with_livecart) as f64 / n,
    }
}

/// One rate's figures.
struct Pass {
    rate: u32,
    viewers: usize,
    seconds: u64,
    sent: u64,
    /// From the first frame's due time to the last frame sent: `seconds` unless the sender lagged.
    sending: Duration,
    received: u64,
    /// The process's CPU time (server and client) over the pass, and the wall time it spans.
    cpu: Duration,
    wall: Duration,
    latency: Histogram<u64>,
    /// Viewers the server closed (or whose connection broke) during the pass.
    closed: usize,
    /// `error` frames the sender got back: a refused chat would not be the fan-out's fault.
    sender_errors: u64,
}

/// Connects fresh viewers and one sender, then sends `rate` chat messages a second for
/// `seconds` on a fixed schedule; each viewer counts and times what reaches it.
async fn fan_out(shop: &Shop, tokens: &[String], sender_token: &str, rate: u32, seconds: u64) -> Pass {
    let urls = tokens.iter().map(|t| viewer_url(shop, t)).collect();
    let (viewers, _) = connect_all(urls).await;
    let (sender, _) = connect(viewer_url(shop, sender_token)).await;
    tokio::time::sleep(SETTLE).await;

    let cpu_before = cpu_time();
    let start = tokio::time::Instant::now();
    let until = start + Duration::from_secs(seconds) + DRAIN;
    let viewers: Vec<_> = viewers
        .into_iter()
        .map(|socket| tokio::spawn(watch(socket, tokio::time::sleep_until(until))))
        .collect();
    let (mut outgoing, mut incoming) = sender.split();
    // The sender's own broadcasts come back to it: read them so its queue never stalls.
    let echoes = tokio::spawn(async move {
        let mut errors = 0;
        while let Ok(Some(Ok(message))) = tokio::time::timeout_at(until, incoming.next()).await {
            if message.to_text().is_ok_and(|t| t.starts_with(r#"{"type":"error""#)) {
                errors += 1;
            }
        }
        errors
    });

    let total = rate as u64 * seconds;
    let period = Duration::from_secs(1) / rate;
    for i in 0..total {
        let due = start + period * i as u32;
        tokio::time::sleep_until(due).await;
        // The due time, not the send time: a late sender shows up as latency, not as a lower rate.
        let text = format!("{} fan-out bench", micros_at(due.into_std()));
        let frame = serde_json::json!({"type": "chat", "text": text}).to_string();
        outgoing
            .send(Message::text(frame))
            .await
            .expect("the sender's connection stays open");
    }
    let sending = start.elapsed().max(Duration::from_secs(seconds));

    let mut pass = Pass {
        rate,
        viewers: tokens.len(),
        seconds,
        sent: total,
        sending,
        received: 0,
        cpu: Duration::ZERO,
        wall: Duration::ZERO,
        latency: new_histogram(),
        closed: 0,
        sender_errors: echoes.await.expect("the sender's reader ends cleanly"),
    };
    for task in viewers {
        let tally = task.await.expect("a viewer's task ends cleanly");
        pass.received += tally.chat;
        if let Some(latency) = &tally.latency {
            pass.latency.add(latency).expect("histograms of the same bounds add");
        }
        pass.closed += usize::from(tally.closed.is_some());
    }
    pass.cpu = cpu_time() - cpu_before;
    pass.wall = start.elapsed();
    let _ = outgoing.close().await;
    pass
}

impl Pass {
    fn offered(&self) -> u64 {
        self.sent * self.viewers as u64
    }

    /// Chat frames delivered per second of sending.
    fn delivered_per_second(&self) -> f64 {
        self.received as f64 / self.sending.as_secs_f64()
    }
}

fn report(passes: &[Pass], cores: usize) {
    println!("fan-out: one room, chat frames from one sender to every viewer (client on the same {cores} cores)");
    println!(
        "| chat/s | viewers | offered frames/s | delivered frames/s | per core | p50 ms | p99 ms | max ms | dropped | closed | CPU | frames per CPU-s |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for pass in passes {
        let offered = pass.offered();
        let delivered = pass.delivered_per_second();
        let dropped = offered - pass.received.min(offered);
        println!(
            "| {} | {} | {:.0} | {:.0} | {:.0} | {:.1} | {:.1} | {:.1} | {} ({:.2} %) | {} | {:.0} % | {:.0} |",
            pass.rate,
            pass.viewers,
            offered as f64 / pass.seconds as f64,
            delivered,
            delivered / cores as f64,
            ms(pass.latency.value_at_quantile(0.5)),
            ms(pass.latency.value_at_quantile(0.99)),
            ms(pass.latency.max()),
            dropped,
            100.0 * dropped as f64 / offered.max(1) as f64,
            pass.closed,
            100.0 * pass.cpu.as_secs_f64() / pass.wall.as_secs_f64(),
            pass.received as f64 / pass.cpu.as_secs_f64().max(0.01),
        );
    }
    println!(
        "(CPU: the whole process over the pass and its 1 s drain, in % of one core: all {cores} cores = {} %)",
        cores * 100
    );
    for pass in passes {
        let offered_per_core = pass.offered() as f64 / pass.seconds as f64 / cores as f64;
        let per_core = pass.delivered_per_second() / cores as f64;
        let p99 = ms(pass.latency.value_at_quantile(0.99));
        let verdict = if per_core >= TARGET_PER_CORE && p99 < TARGET_P99_MS {
            "meets the target (≥ 50k frames/s per core, p99 < 200 ms)"
        } else if offered_per_core < TARGET_PER_CORE {
            "a lighter load than the target's"
        } else {
            "misses the target"
        };
        println!(
            "{}/s × {} viewers: {per_core:.0} frames/s per core, p99 {p99:.1} ms: {verdict}",
            pass.rate, pass.viewers
        );
    }
}

/// What one connection saw.
struct Tally {
    /// Made at the first chat frame: a histogram is ~150 KiB, which would swamp the idle figure.
    latency: Option<Histogram<u64>>,
    /// Chat frames received.
    chat: u64,
    /// Why the connection ended before it was stopped, if it did.
    closed: Option<String>,
}

/// Reads a connection until `stop`, timing every chat frame by the due time it carries. Reading
/// also answers the server's pings, as a real idle viewer's client does.
async fn watch(mut socket: Socket, stop: impl Future<Output = ()>) -> Tally {
    let mut tally = Tally {
        latency: None,
        chat: 0,
        closed: None,
    };
    tokio::pin!(stop);
    loop {
        let message = tokio::select! {
            () = &mut stop => break,
            message = socket.next() => message,
        };
        match message {
            Some(Ok(Message::Text(text))) => {
                if let Some(due) = chat_stamp(&text) {
                    tally.chat += 1;
                    let latency = micros_at(Instant::now()).saturating_sub(due);
                    tally
                        .latency
                        .get_or_insert_with(new_histogram)
                        .saturating_record(latency);
                }
            }
            Some(Ok(Message::Close(frame))) => {
                tally.closed = Some(format!("closed: {frame:?}"));
                break;
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                tally.closed = Some(e.to_string());
                break;
            }
            None => {
                tally.closed = Some("the connection ended".into());
                break;
            }
        }
    }
    let _ = socket.close(None).await;
    tally
}

/// Watches every socket in a task of its own until `stopped` turns true.
fn watch_all(
    sockets: Vec<Socket>,
    stopped: &tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<Tally>> {
    sockets
        .into_iter()
        .map(|socket| {
            let mut stopped = stopped.clone();
            tokio::spawn(watch(socket, async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            }))
        })
        .collect()
}

/// The due time a bench chat frame carries: the first word of its text.
fn chat_stamp(frame: &str) -> Option<u64> {
    // A plain search, not a JSON parse: the client should cost as little beside the server as it can.
    let rest = frame.strip_prefix(r#"{"type":"chat""#)?;
    let text = &rest[rest.find(r#""text":""#)? + 8..];
    text[..text.find(' ')?].parse().ok()
}

fn viewer_url(shop: &Shop, token: &str) -> String {
    format!("ws://{}/v1/rooms/{}/ws?token={token}", shop.address, shop.room)
}

/// Opens every URL, a few at a time, each read up to its welcome; returns the sockets and the
/// first welcome (the trivial server sends the same bytes).
async fn connect_all(urls: Vec<String>) -> (Vec<Socket>, Utf8Bytes) {
    let connected: Vec<(Socket, Utf8Bytes)> = futures_util::stream::iter(urls)
        .map(connect)
        .buffer_unordered(CONNECTING)
        .collect()
        .await;
    let welcome = connected.first().map(|(_, w)| w.clone()).unwrap_or_default();
    (connected.into_iter().map(|(s, _)| s).collect(), welcome)
}

async fn connect(url: String) -> (Socket, Utf8Bytes) {
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(url, Some(client_config()), false)
        .await
        .expect("the server accepts a viewer (is the open-file limit high enough?)");
    match socket.next().await {
        Some(Ok(Message::Text(welcome))) if welcome.starts_with(r#"{"type":"welcome""#) => (socket, welcome),
        other => panic!("the first frame should be the welcome, got {other:?}"),
    }
}

/// A lean client: small buffers, so that the idle figure holds as little of the client as can be.
fn client_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(4096)
}

/// A WebSocket server that does nothing but send `welcome` and echo text: the other end for the
/// client-only baseline of the idle figure.
async fn trivial_server(welcome: Utf8Bytes) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port is free");
    let address = listener.local_addr().expect("a bound listener has an address");
    let server = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let welcome = welcome.clone();
            tokio::spawn(async move {
                let Ok(mut socket) = tokio_tungstenite::accept_async_with_config(stream, Some(client_config())).await
                else {
                    return;
                };
                if socket.send(Message::Text(welcome)).await.is_err() {
                    return;
                }
                while let Some(Ok(message)) = socket.next().await {
                    if message.is_text() && socket.send(message).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (address, server)
}

/// Microseconds from the first call, for stamps that every task of this process compares.
fn micros_at(at: Instant) -> u64 {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    let origin = *ORIGIN.get_or_init(|| Instant::now() - Duration::from_secs(1));
    at.saturating_duration_since(origin).as_micros() as u64
}

/// Latency in µs, up to a minute, three significant digits.
fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// The process's CPU time so far, user and system, all threads (`/proc/self/stat`, in the
/// kernel's 100 Hz ticks).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("Linux has /proc/self/stat");
    // The fields after the command name, which is in parentheses: utime and stime are 14 and 15.
    let fields: Vec<&str> = stat[stat.rfind(')').expect("a command name") + 2..]
        .split(' ')
        .collect();
    let ticks: u64 = fields[11..13]
        .iter()
        .map(|f| f.parse::<u64>().expect("CPU ticks are numbers"))
        .sum();
    Duration::from_millis(ticks * 10)
}

/// The process's resident memory, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux has /proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS is a number of kB")
}

fn env_number(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v.parse().unwrap_or_else(|_| panic!("{name}={v} is not a whole number")),
        Err(_) => default,
    }
}

fn env_list(name: &str, default: &[u32]) -> Vec<u32> {
    match std::env::var(name) {
        Ok(v) => v
            .split(',')
            .map(|rate| {
                rate.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}={v} is not a list of rates"))
            })
            .collect(),
        Err(_) => default.to_vec(),
    }
}
