//! The real server binary as a child process, for the tests that need a process boundary: a
//! second process on the same database, SIGSTOP and SIGCONT, SIGKILL, a database behind a proxy.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct ServerProcess {
    pub address: String,
    pub log: PathBuf,
    child: Child,
}

/// The server binary: the one `LIVECART_BIN` names (scripts/crash-test sets the release build),
/// else the one Cargo built with these tests.
pub fn binary() -> String {
    std::env::var("LIVECART_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_livecart").to_owned())
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

impl ServerProcess {
    /// Starts the binary on `database_url` with extra settings as `LIVECART__…` variables, and
    /// does not wait for it.
    pub fn spawn(database_url: &str, env: &[(&str, &str)]) -> ServerProcess {
        let port = free_port();
        let log = std::env::temp_dir().join(format!("livecart-proc-{}.log", uuid::Uuid::new_v4().simple()));
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let mut command = Command::new(binary());
        command
            .arg("--bind")
            .arg(format!("127.0.0.1:{port}"))
            .env("LIVECART_ENV", "test")
            .env("LIVECART__DATABASE__URL", database_url)
            .env("LIVECART__LIMITS__ENABLED", "false")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().expect("the server binary starts");
        ServerProcess {
            address: format!("http://127.0.0.1:{port}"),
            log,
            child,
        }
    }

    /// Starts the binary and waits until `/readyz` answers 200.
    pub async fn start(database_url: &str, env: &[(&str, &str)]) -> ServerProcess {
        let mut server = Self::spawn(database_url, env);
        server.wait_ready(Duration::from_secs(30)).await;
        server
    }

    /// The server's process id, to read its memory from `/proc/<pid>/status`.
    #[allow(dead_code)] // benches/viewers.rs reads it; the tests do not
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn wait_ready(&mut self, within: Duration) {
        let client = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the server exited ({status}); log: {}", self.log_text());
            }
            let ready = client.get(self.url("/readyz")).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the server was not ready within {within:?}; log: {}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for the process to exit by itself; its exit code.
    pub async fn exit_code(&mut self, within: Duration) -> Option<i32> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            assert!(tokio::time::Instant::now() < deadline, "the server did not exit");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// SIGSTOP: the process freezes with its connections open, as in a long GC pause or a VM stall.
    pub fn pause(&self) {
        self.signal("STOP");
    }

    pub fn resume(&self) {
        self.signal("CONT");
    }

    /// SIGTERM: the graceful stop.
    pub fn terminate(&self) {
        self.signal("TERM");
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // A paused process would ignore SIGKILL's cleanup until continued; one already killed
        // and reaped has nothing to continue.
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .arg("-CONT")
                .arg(self.child.id().to_string())
                .stderr(Stdio::null())
                .status();
        }
        self.kill();
        let _ = std::fs::remove_file(&self.log);
    }
}
