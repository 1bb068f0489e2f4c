//! A TCP proxy between livecart and PostgreSQL that the fault tests steer: forward, refuse new
//! connections and reset the open ones (a restart), blackhole (accept and swallow everything: a
//! database that hangs), or cut a connection right after it sent the COMMIT of a transaction
//! that wrote orders, before the answer gets back (the ambiguous commit). In front of livecart
//! itself, resetting connections is a browser's network dropping (`web_shop.rs`).
//!
//! It runs on its own thread and runtime, so it keeps forwarding whatever the test's runtime does.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    Forward = 0,
    /// New connections are closed at once.
    Refuse = 1,
    /// Everything is accepted and nothing is forwarded, either way.
    Blackhole = 2,
}

struct Shared {
    mode: AtomicU8,
    /// Connections still to cut right after their COMMIT of an orders write.
    cuts_armed: AtomicUsize,
    cuts_done: AtomicUsize,
    connections: Mutex<Vec<AbortHandle>>,
    upstream: String,
}

pub struct FaultProxy {
    pub port: u16,
    shared: Arc<Shared>,
}

impl FaultProxy {
    /// Listens on a free local port and forwards to `upstream` (host:port).
    pub fn start(upstream: &str) -> FaultProxy {
        let shared = Arc::new(Shared {
            mode: AtomicU8::new(Mode::Forward as u8),
            cuts_armed: AtomicUsize::new(0),
            cuts_done: AtomicUsize::new(0),
            connections: Mutex::new(Vec::new()),
            upstream: upstream.to_owned(),
        });
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("proxy binds");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let port = std_listener.local_addr().expect("addr").port();
        let accepting = shared.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("proxy runtime");
            runtime.block_on(async move {
                let listener = TcpListener::from_std(std_listener).expect("proxy listener");
                loop {
                    let Ok((client, _)) = listener.accept().await else {
                        continue;
                    };
                    if accepting.mode.load(Ordering::SeqCst) == Mode::Refuse as u8 {
                        drop(client);
                        continue;
                    }
                    let shared = accepting.clone();
                    let task = tokio::spawn(async move { relay(client, shared).await });
                    accepting.connections.lock().expect("lock").push(task.abort_handle());
                }
            });
        });
        FaultProxy { port, shared }
    }

    /// The database URL through the proxy, for a URL of the real server. Without TLS, so the
    /// proxy can see which bytes are a COMMIT.
    pub fn url_for(&self, database_url: &str) -> String {
        let url = database_url.replacen("127.0.0.1:5432", &format!("127.0.0.1:{}", self.port), 1);
        let glue = if url.contains('?') { '&' } else { '?' };
        format!("{url}{glue}sslmode=disable")
    }

    pub fn set_mode(&self, mode: Mode) {
        self.shared.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// Closes every open connection (both ends), as a database restart does.
    pub fn reset_all(&self) {
        for handle in self.shared.connections.lock().expect("lock").drain(..) {
            handle.abort();
        }
    }

    /// The next `n` connections that COMMIT a transaction which inserted orders are cut right
    /// after the COMMIT is forwarded, before its answer comes back.
    pub fn cut_after_order_commits(&self, n: usize) {
        self.shared.cuts_armed.store(n, Ordering::SeqCst);
    }

    pub fn cuts_done(&self) -> usize {
        self.shared.cuts_done.load(Ordering::SeqCst)
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn relay(mut client: TcpStream, shared: Arc<Shared>) {
    let Ok(mut server) = TcpStream::connect(&shared.upstream).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.split();
    let (mut server_read, mut server_write) = server.split();
    let mut up = vec![0u8; 64 * 1024];
    let mut down = vec![0u8; 64 * 1024];
    // Whether this connection's current transaction inserted orders.
    let mut wrote_orders = false;
    loop {
        tokio::select! {
            read = client_read.read(&mut up) => {
                let Ok(n) = read else { return };
                if n == 0 { return }
                if shared.mode.load(Ordering::SeqCst) == Mode::Blackhole as u8 {
                    continue;
                }
                let chunk = &up[..n];
                if contains(chunk, b"orders_orders") && contains(chunk, b"INSERT") {
                    wrote_orders = true;
                }
                let commits = contains(chunk, b"COMMIT");
                if server_write.write_all(chunk).await.is_err() { return }
                if commits && wrote_orders {
                    wrote_orders = false;
                    let armed = shared.cuts_armed.load(Ordering::SeqCst);
                    if armed > 0 && shared.cuts_armed.compare_exchange(armed, armed - 1, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                        let _ = server_write.flush().await;
                        shared.cuts_done.fetch_add(1, Ordering::SeqCst);
                        // Both ends close here: the COMMIT reached the server, its answer never
                        // reaches the client.
                        return;
                    }
                }
            }
            read = server_read.read(&mut down) => {
                let Ok(n) = read else { return };
                if n == 0 { return }
                if shared.mode.load(Ordering::SeqCst) == Mode::Blackhole as u8 {
                    continue;
                }
                if client_write.write_all(&down[..n]).await.is_err() { return }
            }
        }
    }
}
