//! What the server writes to its logs: requests as events, and never a token, even at debug
//! level. The real binary runs here, as an operator would run it, and its output is read back.

use crate::helpers::{fresh_database, Backend, TestDatabase};
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// The server process, killed when the test ends however it ends.
struct Server {
    child: Child,
    output: Arc<Mutex<Vec<u8>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
    address: String,
    /// Removed with the server.
    _database: TestDatabase,
}

impl Server {
    fn start(extra_env: &[(&str, &str)]) -> Self {
        // A free port: the OS picks one, and it is given back for the server to take.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let database = fresh_database(Backend::Sqlite);
        let mut command = Command::new(env!("CARGO_BIN_EXE_livecart"));
        command
            .args(["--bind", &format!("127.0.0.1:{port}")])
            .env("LIVECART_ENV", "test")
            .env("LIVECART__DATABASE__URL", &database.url)
            .env("RUST_LOG", "debug")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in extra_env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("the server binary starts");
        let output = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        let pipes: [Box<dyn Read + Send>; 2] = [
            Box::new(child.stdout.take().expect("stdout")),
            Box::new(child.stderr.take().expect("stderr")),
        ];
        for mut pipe in pipes {
            let output = output.clone();
            readers.push(std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    output.lock().expect("not poisoned").extend_from_slice(&buf[..n]);
                }
            }));
        }
        Self {
            child,
            output,
            readers,
            address: format!("127.0.0.1:{port}"),
            _database: database,
        }
    }

    async fn wait_until_ready(&self, client: &reqwest::Client) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let up = client.get(format!("http://{}/healthz", self.address)).send().await;
            if up.is_ok_and(|r| r.status() == StatusCode::OK) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the server never came up: {}",
                self.text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().expect("not poisoned")).into_owned()
    }

    /// Stops the server and returns everything it wrote.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for reader in std::mem::take(&mut self.readers) {
            let _ = reader.join();
        }
        self.text()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

async fn token_of(res: reqwest::Response) -> String {
    let body: Value = res.json().await.expect("json");
    body["token"].as_str().expect("a token").to_owned()
}

#[actix_web::test]
async fn debug_logs_show_request_paths_but_never_a_token() {
    let server = Server::start(&[]);
    let client = reqwest::Client::new();
    server.wait_until_ready(&client).await;
    let http = format!("http://{}", server.address);

    let register = json!({"username": "log_merchant", "password": "correct-horse-battery", "role": "merchant"});
    let merchant = token_of(
        client
            .post(format!("{http}/v1/auth/register"))
            .json(&register)
            .send()
            .await
            .expect("sent"),
    )
    .await;
    let room: Value = client
        .post(format!("{http}/v1/rooms"))
        .bearer_auth(&merchant)
        .json(&json!({"title": "logs"}))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let room = room["id"].as_str().expect("room id").to_owned();
    let shown = client
        .get(format!("{http}/v1/rooms/{room}"))
        .bearer_auth(&merchant)
        .send()
        .await
        .expect("sent");
    assert_eq!(shown.status(), StatusCode::OK);
    let viewer = token_of(
        client
            .post(format!("{http}/v1/auth/guest"))
            .json(&json!({"nickname": "v"}))
            .send()
            .await
            .expect("sent"),
    )
    .await;

    let ws = format!("ws://{}/v1/rooms/{room}/ws", server.address);
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("{ws}?token={viewer}"))
        .await
        .expect("upgrade");
    let welcome = socket.next().await.expect("a frame").expect("readable");
    assert!(welcome.to_text().expect("text").contains("welcome"));
    socket
        .send(Message::text(json!({"type": "chat", "text": "hello"}).to_string()))
        .await
        .expect("sent");
    socket.close(None).await.expect("closed");
    // A refused upgrade: an invalid token must not be logged either.
    let forged = format!("{}.forged-signature-0123456789", &viewer[..viewer.len() / 2]);
    let refused = tokio_tungstenite::connect_async(format!("{ws}?token={forged}")).await;
    assert!(refused.is_err(), "a forged token is refused");
    // The access log writes an upgrade's line when the upgrade is answered.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let logs = server.stop();
    assert!(
        logs.contains(&format!("/v1/rooms/{room}/ws")),
        "the upgrade is logged by its path: {logs}"
    );
    assert!(logs.contains("/v1/auth/register"), "requests are logged: {logs}");
    for (who, token) in [("merchant", &merchant), ("viewer", &viewer), ("forged", &forged)] {
        // The whole token, and its signature alone, which is what makes it a credential.
        let signature = token.rsplit('.').next().expect("a signature");
        assert!(
            !logs.contains(token.as_str()),
            "the {who} token is in the logs:\n{logs}"
        );
        assert!(
            !logs.contains(signature),
            "the {who} token's signature is in the logs:\n{logs}"
        );
    }
}
