//! `Server-Timing: app;dur=<ms>` on every answer: the time from the request reaching the router
//! to its response being ready (authentication, body, handler, store commit), in milliseconds
//! with 3 decimals. `qunfa bench send` reads it to tell server time from client-observed time.

use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

pub const SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

/// The middleware: `.layer(axum::middleware::from_fn(timing::server_timing))`.
pub async fn server_timing(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let mut resp = next.run(req).await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(v) = HeaderValue::from_str(&format!("app;dur={ms:.3}")) {
        resp.headers_mut().insert(SERVER_TIMING, v);
    }
    resp
}

/// The `dur` of a `Server-Timing` value's `app` metric, in milliseconds.
pub fn parse_app_dur(value: &str) -> Option<f64> {
    value.split(',').find_map(|metric| {
        let mut parts = metric.split(';').map(str::trim);
        if parts.next()? != "app" {
            return None;
        }
        parts.find_map(|p| p.strip_prefix("dur=")?.parse().ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_app_metric() {
        assert_eq!(parse_app_dur("app;dur=1.250"), Some(1.25));
        assert_eq!(parse_app_dur("db;dur=3, app;desc=\"x\";dur=0.5"), Some(0.5));
        assert_eq!(parse_app_dur("db;dur=3"), None);
        assert_eq!(parse_app_dur("app"), None);
    }
}
