//! The demo inbox at `/demo/`: the reference JavaScript client (`clients/js/qunfa.js`) and a
//! page built on it, compiled into the binary so a fresh `qunfa serve` can show a message
//! arriving in a browser with nothing else installed.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

const INDEX: &str = include_str!("../../../clients/js/demo/index.html");
const DEMO_JS: &str = include_str!("../../../clients/js/demo/demo.js");
const DEMO_CSS: &str = include_str!("../../../clients/js/demo/demo.css");
const CLIENT_JS: &str = include_str!("../../../clients/js/qunfa.js");

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// The page talks only to its own origin, or to the WebSocket of a server typed into the form;
/// images in messages may come from anywhere.
const CSP: &str = "default-src 'self'; connect-src 'self' ws: wss:; img-src * data:; \
                   object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// `GET /demo` (redirected to `/demo/`), `/demo/`, `/demo/demo.js`, `/demo/qunfa.js`,
/// `/demo/demo.css`. Generic over the state so it merges into any router.
pub fn router<S: Clone + Send + Sync + 'static>() -> crate::api::Routes<S> {
    crate::api::Routes::new()
        // Relative, so the page keeps working behind a proxy that mounts qunfa under a prefix.
        .route("/demo", get(|| async { Redirect::permanent("demo/") }))
        .route("/demo/", get(|| async { asset(HTML, INDEX) }))
        .route("/demo/index.html", get(|| async { asset(HTML, INDEX) }))
        .route("/demo/demo.js", get(|| async { asset(JS, DEMO_JS) }))
        .route("/demo/qunfa.js", get(|| async { asset(JS, CLIENT_JS) }))
        .route("/demo/demo.css", get(|| async { asset(CSS, DEMO_CSS) }))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        // Small files, and a new binary may bring new ones: always revalidate.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
    ];
    (headers, body).into_response()
}
