//! The reference web client (`web/`, served by `src/gateway/web_client.rs`) over plain HTTP: its
//! routes, types and security headers. `web_shop.rs` drives the pages in a browser.
//!
//! Static files answer the same whatever the database behind the server, so this runs on SQLite
//! alone.

use crate::helpers::*;
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

    // Gzipped for a browser that takes it: the player is most of a first visit's bytes.
    let gzipped = app
        .client
        .get(app.url("/assets/vendor/hls.light.min.mjs"))
        .header(reqwest::header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .expect("request sent");
    assert_eq!(gzipped.status(), StatusCode::OK);
    assert_eq!(
        gzipped
            .headers()
            .get(reqwest::header::CONTENT_ENCODING)
            .map(|v| v.as_bytes()),
        Some(&b"gzip"[..])
    );
    let bytes = gzipped.bytes().await.expect("a body");
    assert!(bytes.len() < 200_000, "the player gzipped is {} bytes", bytes.len());

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
