//! The reference web client (`web/` in the repository): the viewer's room page at `/r/{room_id}`,
//! the merchant's console at `/console`, a start page at `/`, and their files under `/assets/`.
//!
//! The files are built into the binary (rust-embed, embedded in debug builds too, so the tests
//! exercise exactly what ships): `cargo run --release` is a working shop with no build step and
//! no files beside the binary. Every answer carries the security headers; the policy allows the
//! page's own origin (its API and its same-origin WebSocket) and the CDN's play domain (the HLS
//! stream), nothing else, and no inline script or style. Files are gzipped for browsers that take
//! it (hls.js is 374 KB, about a third of that gzipped: it matters on a phone's network).

use super::error::ApiError;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Compress;
use actix_web::{get, web, HttpRequest, HttpResponse};
use rust_embed::RustEmbed;
use uuid::Uuid;

/// Everything under `web/`, compiled in.
#[derive(RustEmbed)]
#[folder = "web/"]
struct Files;

/// The security headers of the client's pages, built once from the settings.
#[derive(Debug, Clone)]
pub struct PagePolicy {
    csp: HeaderValue,
}

impl PagePolicy {
    /// `play_domain` is the CDN host the rooms' HLS URLs point at (`stream.play_domain`): the
    /// player fetches its playlists and segments from there (`connect-src`, hls.js) or lets the
    /// browser play them (`media-src`); hls.js feeds the video element through a `blob:` URL.
    pub fn new(play_domain: &str) -> anyhow::Result<PagePolicy> {
        let play = format!("https://{play_domain}");
        let csp = format!(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self' {play}; media-src 'self' blob: {play}; worker-src 'self' blob:; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        );
        let csp = HeaderValue::from_str(&csp)
            .map_err(|e| anyhow::anyhow!("stream.play_domain does not fit in a header ({play_domain:?}): {e}"))?;
        Ok(PagePolicy { csp })
    }

    /// One embedded file with the headers every client file gets. No file has a hashed name,
    /// so each is revalidated (`no-cache`) against its ETag, which the build computes.
    fn serve(&self, req: &HttpRequest, path: &str) -> Result<HttpResponse, ApiError> {
        let file = Files::get(path).ok_or(ApiError::NotFound("file"))?;
        let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
        let unchanged = if_none_match(req, &etag);
        let mut answer = if unchanged {
            HttpResponse::NotModified()
        } else {
            HttpResponse::Ok()
        };
        answer
            .insert_header((header::CONTENT_SECURITY_POLICY, self.csp.clone()))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((header::REFERRER_POLICY, "no-referrer"))
            .insert_header((header::X_FRAME_OPTIONS, "DENY"))
            .insert_header(("Cross-Origin-Opener-Policy", "same-origin"))
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .insert_header((header::ETAG, etag));
        if unchanged {
            return Ok(answer.finish());
        }
        // Embedded files are borrowed from the binary: shared, not copied, per answer.
        let body = match file.data {
            std::borrow::Cow::Borrowed(bytes) => web::Bytes::from_static(bytes),
            std::borrow::Cow::Owned(bytes) => web::Bytes::from(bytes),
        };
        Ok(answer.content_type(content_type(path)).body(body))
    }
}

fn if_none_match(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag))
}

/// The types the client's files need, stated rather than guessed: a module script served with
/// another type is refused by the browser (and `nosniff` makes that strict for every file).
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "text/plain; charset=utf-8",
    }
}

/// The start page: join a room, or open the console.
#[get("/", wrap = "Compress::default()")]
pub async fn start_page(req: HttpRequest, policy: web::Data<PagePolicy>) -> Result<HttpResponse, ApiError> {
    policy.serve(&req, "index.html")
}

/// The viewer's room page, as a share link opens it. The room itself is read by the page (an
/// unknown room says so there); an id that is no UUID names no room at all.
#[get("/r/{room_id}", wrap = "Compress::default()")]
pub async fn room_page(
    req: HttpRequest,
    policy: web::Data<PagePolicy>,
    _room_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    policy.serve(&req, "room.html")
}

/// The merchant's live console.
#[get("/console", wrap = "Compress::default()")]
pub async fn console_page(req: HttpRequest, policy: web::Data<PagePolicy>) -> Result<HttpResponse, ApiError> {
    policy.serve(&req, "console.html")
}

/// Scripts, styles and the vendored player. Only files under `web/assets/` are reachable here:
/// the pages have their own routes.
#[get("/assets/{file:.*}", wrap = "Compress::default()")]
pub async fn asset(
    req: HttpRequest,
    policy: web::Data<PagePolicy>,
    file: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let file = file.into_inner();
    if file.split('/').any(|part| part.is_empty() || part.starts_with('.')) {
        return Err(ApiError::NotFound("file"));
    }
    policy.serve(&req, &format!("assets/{file}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_the_play_domain_for_media_and_fetches() {
        let policy = PagePolicy::new("play.example.com").expect("a valid domain");
        let csp = policy.csp.to_str().expect("ASCII");
        assert!(csp.contains("media-src 'self' blob: https://play.example.com"), "{csp}");
        assert!(csp.contains("connect-src 'self' https://play.example.com"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
    }

    #[test]
    fn a_play_domain_that_breaks_the_header_is_refused() {
        assert!(PagePolicy::new("bad\ndomain").is_err());
    }

    #[test]
    fn every_page_and_script_is_embedded_with_its_type() {
        for page in ["index.html", "room.html", "console.html"] {
            assert!(Files::get(page).is_some(), "{page} is embedded");
        }
        for file in Files::iter().filter(|f| f.ends_with(".js") || f.ends_with(".mjs")) {
            assert_eq!(content_type(&file), "text/javascript; charset=utf-8");
        }
    }
}
