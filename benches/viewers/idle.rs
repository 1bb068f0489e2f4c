//! Idle viewers' memory on the server: VmRSS of the server's process, steady, before and after
//! the viewers connect. The clients live in the bench's process, so nothing of theirs is counted.

use crate::Sale;
use futures_util::StreamExt;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connections opened at once: thousands in a few seconds without overflowing the listen backlog.
const CONNECTING: usize = 32;

/// Viewers connected and closed before the first reading, so that what the server allocates once
/// (thread caches, pools, the room's maps at their first size) is not charged to the viewers.
const WARM_UP_VIEWERS: usize = 64;

/// RSS counts as steady when two readings this far apart differ by less than `STEADY_KIB`.
const SAMPLE_EVERY: Duration = Duration::from_millis(500);
const STEADY_KIB: u64 = 64;
/// The longest wait for a steady reading; the last reading is taken then.
const STEADY_WITHIN: Duration = Duration::from_secs(20);

pub struct IdleMemory {
    viewers: usize,
    before_kib: u64,
    connected_kib: u64,
    after_close_kib: u64,
}

impl IdleMemory {
    pub fn per_viewer_kib(&self) -> f64 {
        self.connected_kib.saturating_sub(self.before_kib) as f64 / self.viewers as f64
    }

    pub fn report(&self, target_kib: f64) {
        let per_viewer = self.per_viewer_kib();
        println!();
        println!("idle viewers: {} on one room, the server's process alone", self.viewers);
        println!(
            "  VmRSS before {} KiB, with the viewers {} KiB, after they left {} KiB",
            self.before_kib, self.connected_kib, self.after_close_kib
        );
        println!(
            "  {per_viewer:.1} KiB per idle viewer: {}",
            if per_viewer <= target_kib {
                format!("meets the target (≤ {target_kib} KiB)")
            } else {
                format!("misses the target (≤ {target_kib} KiB)")
            }
        );
    }
}

/// Connects `viewers` guests (one token each) and measures the server's growth.
pub async fn measure(sale: &Sale, pid: u32, viewers: usize) -> IdleMemory {
    let warm: Vec<String> = sale.tokens[..WARM_UP_VIEWERS.min(viewers)]
        .iter()
        .map(|t| sale.socket_url(t))
        .collect();
    for mut socket in connect_all(warm).await {
        let _ = socket.close(None).await;
    }
    let before_kib = steady_rss(pid).await;

    let urls = sale.tokens[..viewers].iter().map(|t| sale.socket_url(t)).collect();
    let sockets = connect_all(urls).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|socket| actix_web::rt::spawn(keep_reading(socket, stopped.clone())))
        .collect();
    let connected_kib = steady_rss(pid).await;

    stop.send(true).expect("the viewers still listen");
    let mut closed_early = 0;
    for reader in readers {
        closed_early += usize::from(!reader.await.expect("a viewer's task ends cleanly"));
    }
    assert_eq!(closed_early, 0, "the server closed idle viewers");
    let after_close_kib = steady_rss(pid).await;
    IdleMemory {
        viewers,
        before_kib,
        connected_kib,
        after_close_kib,
    }
}

/// Reads (and so answers the server's pings) until told to stop; `false` if the server closed.
async fn keep_reading(mut socket: Socket, mut stop: tokio::sync::watch::Receiver<bool>) -> bool {
    let open = loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break true,
            message = socket.next() => match message {
                Some(Ok(Message::Close(_)) | Err(_)) | None => break false,
                Some(Ok(_)) => {}
            },
        }
    };
    let _ = socket.close(None).await;
    // Read to the server's close answer, so the next reading finds the connection gone.
    while let Some(Ok(_)) = socket.next().await {}
    open
}

async fn connect_all(urls: Vec<String>) -> Vec<Socket> {
    futures_util::stream::iter(urls)
        .map(connect)
        .buffer_unordered(CONNECTING)
        .collect()
        .await
}

async fn connect(url: String) -> Socket {
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(4096);
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), false)
        .await
        .expect("the server accepts a viewer (is the open-file limit high enough?)");
    match socket.next().await {
        Some(Ok(Message::Text(welcome))) if welcome.starts_with(r#"{"type":"welcome""#) => socket,
        other => panic!("the first frame should be the welcome, got {other:?}"),
    }
}

/// The server's VmRSS once two readings `SAMPLE_EVERY` apart agree within `STEADY_KIB`.
async fn steady_rss(pid: u32) -> u64 {
    let deadline = tokio::time::Instant::now() + STEADY_WITHIN;
    let mut last = rss_kib(pid);
    loop {
        tokio::time::sleep(SAMPLE_EVERY).await;
        let now = rss_kib(pid);
        if now.abs_diff(last) < STEADY_KIB || tokio::time::Instant::now() >= deadline {
            return now;
        }
        last = now;
    }
}

/// A process's resident memory, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("Linux has /proc/<pid>/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS is a number of kB")
}
