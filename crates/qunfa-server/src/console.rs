//! The web console at `/console/`: the pages in `clients/js/console/` and the modules of the
//! JavaScript package they import (`api.js`, `sha1.js`), compiled into the binary. The console
//! signs API calls in the browser, so it needs nothing from the server but these files and the
//! API itself, and nothing from the internet at all.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

macro_rules! console_file {
    ($name:literal, $ty:expr) => {
        (
            $name,
            $ty,
            include_str!(concat!("../../../clients/js/console/", $name)),
        )
    };
}

/// Every file served under `/console/`: (name, content type, content). A test checks that
/// every file of `clients/js/console/` is here.
pub const FILES: &[(&str, &str, &str)] = &[
    console_file!("index.html", HTML),
    console_file!("console.css", CSS),
    console_file!("main.js", JS),
    console_file!("ui.js", JS),
    console_file!("csv.js", JS),
    console_file!("session.js", JS),
    console_file!("overview.js", JS),
    console_file!("audience.js", JS),
    console_file!("compose.js", JS),
    console_file!("sends.js", JS),
    console_file!("funnel.js", JS),
    console_file!("accounts.js", JS),
    console_file!("dicts.js", JS),
    console_file!("words.js", JS),
    // The package's own modules, beside the pages that import them as `./api.js`.
    ("api.js", JS, include_str!("../../../clients/js/api.js")),
    ("sha1.js", JS, include_str!("../../../clients/js/sha1.js")),
];

/// Only this origin, for scripts, styles, images and requests alike: the console talks to its
/// own server, and pictures named in messages are shown as links, never fetched.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'";

/// `GET /console` (redirected to `/console/`), `/console/`, and each of [`FILES`].
pub fn router<S: Clone + Send + Sync + 'static>() -> crate::api::Routes<S> {
    let mut r = crate::api::Routes::new()
        // Relative, so the console keeps working behind a proxy that mounts qunfa under a prefix.
        .route(
            "/console",
            get(|| async { Redirect::permanent("console/") }),
        )
        .route("/console/", get(|| async { asset(HTML, FILES[0].2) }));
    for &(name, ty, body) in FILES {
        r = r.route(
            &format!("/console/{name}"),
            get(move || async move { asset(ty, body) }),
        );
    }
    r
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        // A new binary may bring new files: always revalidate.
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
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    ];
    (headers, body).into_response()
}
