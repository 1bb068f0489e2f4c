//! The reference web client (`web/`, served by `src/gateway/web_client.rs`): its routes and
//! security headers over plain HTTP, and the whole live shop driven in headless Chromium —
//! a merchant's console and two viewers' room pages against the real server.
//!
//! The pages only talk HTTP and the WebSocket to the server, whatever the database behind it, so
//! these run on SQLite alone.

use crate::browser::{click, eval, fill, screenshot, text_of, until, Driver};
use crate::helpers::*;
use crate::proxy::{FaultProxy, Mode};
use fantoccini::Client;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use reqwest::StatusCode;
use uuid::Uuid;

#[actix_web::test]
async fn the_pages_and_assets_are_served_with_their_types_and_security_headers() {
    let app = spawn_app(Backend::Sqlite).await;
    let room = Uuid::new_v4();
    for (path, kind) in [
        ("/".to_owned(), "text/html"),
        (format!("/r/{room}"), "text/html"),
        ("/console".to_owned(), "text/html"),
        ("/assets/js/room.js".to_owned(), "text/javascript"),
        ("/assets/css/app.css".to_owned(), "text/css"),
        ("/assets/vendor/hls.light.min.mjs".to_owned(), "text/javascript"),
    ] {
        let res = app.get(&path, None).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let header = |name: &str| {
            res.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_else(|| panic!("{path} has no {name}"))
                .to_owned()
        };
        assert!(
            header(CONTENT_TYPE.as_str()).starts_with(kind),
            "{path}: {}",
            header("content-type")
        );
        let csp = header("content-security-policy");
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {directive} missing from {csp}");
        }
        // The rooms' HLS comes from the CDN's play domain, and nothing else from elsewhere.
        assert!(
            csp.contains("media-src 'self' blob: https://play.livecart.example"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{path}");
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert_eq!(header(CACHE_CONTROL.as_str()), "no-cache", "{path}");
    }

    // Revalidation: the same file answers 304 to its own ETag.
    let first = app.get("/assets/js/live.js", None).await;
    let etag = first.headers().get(ETAG).expect("an ETag").clone();
    let again = app
        .client
        .get(app.url("/assets/js/live.js"))
        .header(IF_NONE_MATCH, etag)
        .send()
        .await
        .expect("request sent");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    // What is not a page or an asset is the contract's 404.
    for path in [
        "/r/not-a-room-id",
        "/assets/js/nope.js",
        "/assets/../Cargo.toml",
        "/assets/%2e%2e/Cargo.toml",
        "/assets/.hidden",
        "/assets/",
        "/room.html",
    ] {
        expect_error(app.get(path, None).await, StatusCode::NOT_FOUND, "not_found").await;
    }
}

/// The page as a person sees it, with the element ids the pages give their parts.
struct Page {
    client: Client,
    base: String,
}

impl Page {
    async fn open(client: Client, base: &str, path: &str) -> Page {
        client.goto(&format!("{base}{path}")).await.expect("the page loads");
        Page {
            client,
            base: base.to_owned(),
        }
    }

    /// Joins the room page as a guest and waits for the WebSocket's welcome.
    async fn join_as_guest(&self, nickname: &str) {
        until(&self.client, "the join form", "!document.getElementById('join').hidden").await;
        fill(&self.client, "nickname", nickname).await;
        click(&self.client, "#guest-form button[type=submit]").await;
        self.online().await;
    }

    async fn online(&self) {
        until(
            &self.client,
            "the live connection",
            "document.getElementById('connection').dataset.online === 'true'",
        )
        .await;
    }

    async fn chat(&self, text: &str) {
        fill(&self.client, "chat-input", text).await;
        click(&self.client, "#chat-form button[type=submit]").await;
    }

    /// How many chat lines read exactly `text`.
    async fn chat_lines(&self, text: &str) -> u64 {
        let script =
            format!("[...document.querySelectorAll('#messages .text')].filter(e => e.textContent === {text:?}).length");
        eval(&self.client, &script).await.as_u64().unwrap_or(0)
    }

    async fn sees_chat(&self, text: &str) {
        let script = format!("[...document.querySelectorAll('#messages .text')].some(e => e.textContent === {text:?})");
        until(&self.client, &format!("the chat line {text:?}"), &script).await;
    }

    async fn stock_left_is(&self, n: u64) {
        let script = format!("document.getElementById('pinned-left').dataset.stockLeft === '{n}'");
        until(&self.client, &format!("{n} left"), &script).await;
    }

    async fn outcome_is(&self, outcome: &str) {
        let script = format!("document.getElementById('outcome').dataset.outcome === {outcome:?}");
        until(&self.client, &format!("the outcome {outcome}"), &script).await;
    }
}

/// Where the test writes the screenshots the README shows.
fn screenshots() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots")
}

#[actix_web::test]
async fn a_merchant_and_two_viewers_run_a_live_sale_in_the_browser() {
    let app = spawn_app(Backend::Sqlite).await;
    let base = app.address.clone();
    // The second viewer reaches the server through a proxy the test can cut, as a phone
    // losing its network would.
    let proxy = FaultProxy::start(base.trim_start_matches("http://"));
    let flaky_base = format!("http://127.0.0.1:{}", proxy.port);
    let driver = Driver::start().await;

    // The merchant signs up, creates a room and a listing, and goes live.
    let merchant = Page::open(driver.desktop(1280, 900).await, &base, "/console").await;
    let m = &merchant.client;
    until(m, "the sign-up form", "!document.getElementById('auth').hidden").await;
    let username = format!("shop{}", &Uuid::new_v4().simple().to_string()[..10]);
    fill(m, "username", &username).await;
    fill(m, "password", "a-long-password").await;
    click(m, "#signup").await;
    until(m, "the room list", "!document.getElementById('rooms').hidden").await;
    fill(m, "room-title-input", "Friday night tea").await;
    click(m, "#room-form button[type=submit]").await;
    until(
        m,
        "the room view",
        "document.getElementById('room-name').textContent === 'Friday night tea'",
    )
    .await;
    until(
        m,
        "the stream key",
        "document.getElementById('stream-key').value.length > 0",
    )
    .await;
    assert!(
        eval(m, "document.getElementById('push-url').value")
            .await
            .as_str()
            .is_some_and(|u| u.starts_with("rtmp://")),
        "the console shows the signed push URL"
    );
    fill(m, "l-title", "Jasmine tea 250g").await;
    fill(m, "l-price", "39.00").await;
    fill(m, "l-stock", "5").await;
    fill(m, "l-limit", "1").await;
    click(m, "#listing-form button[type=submit]").await;
    until(
        m,
        "the listing in the console",
        "document.querySelector('#listing-list li [class~=pin]')",
    )
    .await;
    click(m, "#go-live").await;
    until(
        m,
        "the room live",
        "document.getElementById('room-status').dataset.status === 'live'",
    )
    .await;
    let share = eval(m, "document.getElementById('share-link').value").await;
    let share = share.as_str().expect("a share link").to_owned();
    let room_path = share
        .strip_prefix(&merchant.base)
        .expect("the link is on this server")
        .to_owned();
    assert!(room_path.starts_with("/r/"), "{share}");

    // Two viewers open the share link and join as guests; chat goes from one to the other.
    // Mei pastes the link into the start page; Lei opens it directly.
    let mei = Page::open(driver.phone(390, 844).await, &base, "/").await;
    fill(&mei.client, "room-link", &format!("{share} from the tea group")).await;
    click(&mei.client, "#join-form button[type=submit]").await;
    let lei = Page::open(driver.phone(390, 844).await, &flaky_base, &room_path).await;
    mei.join_as_guest("Mei").await;
    lei.join_as_guest("Lei").await;
    mei.chat("how strong is it?").await;
    lei.sees_chat("how strong is it?").await;

    // Likes add up on every page.
    for _ in 0..3 {
        click(&lei.client, "#like").await;
    }
    until(
        &mei.client,
        "three likes",
        "document.getElementById('likes').textContent === '3 likes'",
    )
    .await;

    // Buyers in this room earn a coupon from now on.
    fill(m, "c-off", "5.00").await;
    fill(m, "c-min", "0").await;
    click(m, "#coupon-form button[type=submit]").await;
    until(
        m,
        "the running campaign",
        "document.getElementById('coupon-state').textContent.startsWith('Running')",
    )
    .await;

    // The merchant pins the listing: both pages show it with its price and stock.
    click(m, "#listing-list .pin").await;
    for viewer in [&mei, &lei] {
        until(
            &viewer.client,
            "the pinned listing",
            "document.getElementById('pinned-name').textContent === 'Jasmine tea 250g'",
        )
        .await;
        assert_eq!(text_of(&viewer.client, "pinned-price").await, "¥39.00");
        viewer.stock_left_is(5).await;
    }

    // Mei buys: her order is reserved, with the time left to pay; both pages see the stock drop.
    click(&mei.client, "#buy").await;
    mei.outcome_is("reserved").await;
    assert!(
        text_of(&mei.client, "outcome").await.contains("Pay within"),
        "the time left to pay is shown"
    );
    for viewer in [&mei, &lei] {
        viewer.stock_left_is(4).await;
    }
    // Paying goes through the sandbox provider and its webhook.
    click(&mei.client, "#pay").await;
    mei.outcome_is("paid").await;

    // Lei buys once, then once more: past the limit of one, in words.
    click(&lei.client, "#buy").await;
    lei.outcome_is("reserved").await;
    mei.stock_left_is(3).await;
    click(&lei.client, "#buy").await;
    lei.outcome_is("limit_exceeded").await;
    assert_eq!(
        text_of(&lei.client, "outcome").await,
        "You have reached the limit for this item."
    );

    // The merchant's dashboard has both orders, and the paid one's revenue.
    until(
        m,
        "two orders on the dashboard",
        "document.getElementById('kpi-orders').textContent === '2'",
    )
    .await;
    until(
        m,
        "the paid revenue",
        "document.getElementById('kpi-revenue').textContent === '¥39.00'",
    )
    .await;
    until(
        m,
        "the paid order in the list",
        "document.querySelector('#order-list [data-status=paid]')",
    )
    .await;
    until(
        m,
        "the stock in the dashboard",
        "document.querySelector('#per-listing td')?.textContent === '3'",
    )
    .await;

    // Mei's orders and coupons are one tap away.
    click(&mei.client, "#open-orders").await;
    until(
        &mei.client,
        "her paid order",
        "document.getElementById('mine-list').textContent.includes('paid')",
    )
    .await;
    click(&mei.client, "#mine form button").await;
    // The coupon is issued from the order's event, shortly after the order: reopen until it shows.
    let started = std::time::Instant::now();
    loop {
        click(&mei.client, "#open-coupons").await;
        until(
            &mei.client,
            "the coupons dialog",
            "document.getElementById('mine').open",
        )
        .await;
        let shown = eval(
            &mei.client,
            "document.getElementById('mine-list').textContent.includes('¥5.00')",
        )
        .await;
        click(&mei.client, "#mine form button").await;
        if shown == serde_json::json!(true) {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "no coupon for Mei's order"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    // Lei's connection drops; Mei chats meanwhile; Lei's page reconnects by itself and shows
    // what it missed, and nothing twice.
    proxy.set_mode(Mode::Refuse);
    proxy.reset_all();
    until(
        &lei.client,
        "the page to notice the drop",
        "document.getElementById('connection').dataset.online === 'false'",
    )
    .await;
    mei.chat("did you see the price?").await;
    mei.sees_chat("did you see the price?").await;
    proxy.set_mode(Mode::Forward);
    lei.online().await;
    lei.sees_chat("did you see the price?").await;
    assert_eq!(
        lei.chat_lines("how strong is it?").await,
        1,
        "no duplicate after the reconnect"
    );
    assert_eq!(
        lei.chat_lines("did you see the price?").await,
        1,
        "the missed line once"
    );

    // Screenshots for the README: the viewer's page on a phone in both languages, the console.
    let dir = screenshots();
    screenshot(&mei.client, &dir.join("viewer-en.png")).await;
    click(&mei.client, "#lang").await;
    until(
        &mei.client,
        "the page in Chinese",
        "document.documentElement.lang === 'zh-CN'",
    )
    .await;
    assert_eq!(text_of(&mei.client, "outcome").await, "已付款，谢谢！");
    screenshot(&mei.client, &dir.join("viewer-zh.png")).await;
    screenshot(m, &dir.join("console.png")).await;

    // The merchant deletes a line: it leaves every page.
    click(m, "#messages li button").await;
    until(
        &lei.client,
        "the deleted line gone",
        "![...document.querySelectorAll('#messages .text')].some(e => e.textContent === 'how strong is it?')",
    )
    .await;

    // The merchant mutes Lei from the line Lei wrote; Lei's next line is refused, in words.
    lei.chat("is it organic?").await;
    let line = "[...document.querySelectorAll('#messages li')].some(li => li.textContent.includes('is it organic?'))";
    until(m, "Lei's line in the console", line).await;
    // Found by its accessible name, as a screen reader announces it.
    click(m, "#messages button[aria-label='Mute: Lei']").await;
    until(m, "the mute confirmed", "document.getElementById('chat-note').textContent === 'Muted Lei'").await;
    lei.chat("hello?").await;
    until(&lei.client, "the refusal", "document.getElementById('chat-error').textContent === 'You are muted in this room.'").await;

    // A sale that opens in an hour: pinned, it counts down on both pages by the server's clock,
    // and buying before it opens says so.
    let token = eval(m, "JSON.parse(localStorage.getItem('livecart.merchant')).token").await;
    let token = token.as_str().expect("the console keeps its token");
    let room: Uuid = room_path.trim_start_matches("/r/").parse().expect("a room id");
    let opens = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let body = serde_json::json!({"title": "Oolong 100g", "price_cents": 5900, "stock": 10, "per_user_limit": 2, "starts_at": opens});
    let later = id_of(
        expect_status(
            app.post(&format!("/v1/rooms/{room}/listings"), Some(token), body).await,
            StatusCode::CREATED,
        )
        .await,
    );
    let pin = format!("#listing-list li[data-listing-id='{later}'] .pin");
    until(
        m,
        "the new listing in the console",
        &format!("document.querySelector({pin:?})"),
    )
    .await;
    click(m, &pin).await;
    for viewer in [&mei, &lei] {
        until(
            &viewer.client,
            "the new pin",
            "document.getElementById('pinned-name').textContent === 'Oolong 100g'",
        )
        .await;
    }
    until(
        &lei.client,
        "the countdown",
        "/^Sale opens in (59:[0-5][0-9]|1:00:00)$/.test(document.getElementById('pinned-countdown').textContent)",
    )
    .await;
    until(
        &mei.client,
        "the countdown in Chinese",
        "document.getElementById('pinned-countdown').textContent.startsWith('距开抢')",
    )
    .await;
    click(&lei.client, "#buy").await;
    lei.outcome_is("sale_not_open").await;
    assert_eq!(text_of(&lei.client, "outcome").await, "The sale is not open yet.");

    for page in [merchant, mei, lei] {
        let _ = page.client.close().await;
    }
}
