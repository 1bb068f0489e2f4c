//! Headless Chromium for the web client's end-to-end test (`web_shop.rs`): one `chromedriver`
//! process (Debian's `chromium-driver`, which `scripts/test` installs) on a free port, a
//! WebDriver session per person in the scenario, and waits on page conditions (never fixed
//! sleeps).

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a page condition may take before the test fails. Generous: two cores run the
/// whole suite, and a reconnect waits out its backoff.
const PATIENCE: Duration = Duration::from_secs(30);

pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// The chromedriver process; killed when dropped, pass or fail.
pub struct Driver {
    child: Child,
    pub url: String,
}

impl Driver {
    /// chromedriver's process id, which is also its process group's.
    pub fn group(&self) -> u32 {
        self.child.id()
    }

    pub async fn start() -> Driver {
        for tool in [CHROMEDRIVER, CHROMIUM] {
            assert!(
                std::path::Path::new(tool).exists(),
                "{tool} is missing: scripts/test installs Debian's chromium and chromium-driver (as root), \
                 or run `apt-get install chromium chromium-driver`"
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        // Its own process group, which the browsers it starts join: dropping the driver kills
        // the group, so a test that fails with sessions open leaves no Chromium running.
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let status = format!("{}/status", driver.url);
        let started = Instant::now();
        loop {
            let ready = reqwest::get(&status).await.ok().filter(|r| r.status().is_success());
            if ready.is_some() {
                return driver;
            }
            assert!(started.elapsed() < PATIENCE, "chromedriver did not answer on {status}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A fresh desktop browser (its own profile: its own storage and identity), in English
    /// unless the page is switched.
    pub async fn desktop(&self, width: u32, height: u32) -> Client {
        self.session(&[format!("--window-size={width},{height}")], None).await
    }

    /// A fresh browser as a phone shows pages: a `width`×`height` viewport, touch, a phone's
    /// user agent (Chrome's device emulation).
    pub async fn phone(&self, width: u32, height: u32) -> Client {
        let emulation = json!({
            "deviceMetrics": {"width": width, "height": height, "pixelRatio": 1.0, "touch": true},
            "userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Mobile Safari/537.36",
        });
        self.session(&[], Some(emulation)).await
    }

    async fn session(&self, args: &[String], emulation: Option<Value>) -> Client {
        let mut chrome = json!({
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--lang=en-US", "--hide-scrollbars"],
            "prefs": {"intl.accept_languages": "en-US"},
        });
        if let Some(all) = chrome["args"].as_array_mut() {
            all.extend(args.iter().map(|a| json!(a)));
        }
        if let Some(emulation) = emulation {
            chrome["mobileEmulation"] = emulation;
        }
        let capabilities = json!({"browserName": "chrome", "goog:chromeOptions": chrome});
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("a Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Killing chromedriver alone orphans its browsers (they outlived failed runs, dozens
        // of them, each burning CPU): the whole group goes.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser showing one page, as a person uses it.
pub struct Page {
    pub client: Client,
}

impl Page {
    pub async fn open(client: Client, base: &str, path: &str) -> Page {
        client.goto(&format!("{base}{path}")).await.expect("the page loads");
        Page { client }
    }

    /// Evaluates `expression` in the page.
    pub async fn eval(&self, expression: &str) -> Value {
        self.client
            .execute(&format!("return ({expression});"), vec![])
            .await
            .unwrap_or_else(|e| panic!("evaluating {expression}: {e}"))
    }

    /// Waits until `expression` is truthy in the page; fails the test, naming `what` and showing
    /// the page's text, after `PATIENCE`.
    pub async fn until(&self, what: &str, expression: &str) {
        let started = Instant::now();
        loop {
            let value = self.eval(expression).await;
            if !matches!(value, Value::Null | Value::Bool(false)) && value != json!("") && value != json!(0) {
                return;
            }
            if started.elapsed() > PATIENCE {
                let text = self.eval("document.body.innerText").await;
                panic!("waited {PATIENCE:?} for {what} ({expression}); the page reads:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The text of the element with this id.
    pub async fn text(&self, id: &str) -> String {
        let value = self
            .eval(&format!("document.getElementById({id:?})?.textContent ?? ''"))
            .await;
        value.as_str().unwrap_or_default().to_owned()
    }

    /// Types into the field with this id.
    pub async fn fill(&self, id: &str, text: &str) {
        let field = self
            .client
            .find(Locator::Id(id))
            .await
            .unwrap_or_else(|e| panic!("no #{id}: {e}"));
        field.clear().await.unwrap_or_else(|e| panic!("clearing #{id}: {e}"));
        field
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("typing into #{id}: {e}"));
    }

    /// Clicks the element matching the CSS selector, as a user would: scrolled into the middle
    /// of the window first (not under the sticky top bar); WebDriver refuses a hidden one.
    ///
    /// The pages redraw a list whole when a frame changes it, so the element found may be
    /// replaced before the click lands (WebDriver's "stale element"): a user's click would
    /// have hit the new one, so the click is made again on what the selector finds now.
    pub async fn click(&self, css: &str) {
        let mut attempts = 0;
        loop {
            self.eval(&format!(
                "document.querySelector({css:?})?.scrollIntoView({{block: 'center'}}) ?? true"
            ))
            .await;
            let clicked = self
                .client
                .find(Locator::Css(css))
                .await
                .unwrap_or_else(|e| panic!("no {css}: {e}"))
                .click()
                .await;
            match clicked {
                Ok(()) => return,
                Err(e) if e.to_string().contains("stale element") && attempts < 10 => attempts += 1,
                Err(e) => panic!("clicking {css}: {e}"),
            }
        }
    }

    /// Writes a PNG of the page's viewport, scrolled to the top.
    pub async fn screenshot(&self, path: &std::path::Path) {
        self.eval("window.scrollTo(0, 0) ?? true").await;
        let png = self.client.screenshot().await.expect("a screenshot");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("the screenshot folder");
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}
