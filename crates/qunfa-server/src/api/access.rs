//! The access log and the API metrics: one middleware around every route. For each NIM call
//! (`/nimserver/…`, and any unknown path, counted as `other`) it records the answer's code and
//! time in `qunfa_api_requests_total` and `qunfa_api_request_duration_seconds`, and logs one
//! line (target `qunfa::access`, when `log.access` is on) with the endpoint, the AppKey the
//! caller named, the code, the time, the peer address and NIM's `RequestId` header. Internal
//! errors are logged here with their detail, which never reaches the wire.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use qunfa_core::Code;

use super::Failed;
use super::request::endpoint;
use crate::http::ClientAddr;
use crate::metrics::{API_DURATION, API_REQUESTS};
use crate::state::AppState;

/// The label of a call: `user/create`; `other` for a path no route knows; `None` for the
/// routes that are not NIM calls (the gateway, the demo, the console, health and metrics).
fn label(matched: Option<&MatchedPath>) -> Option<String> {
    match matched.map(MatchedPath::as_str) {
        None => Some("other".to_owned()),
        Some(p) if p.starts_with("/nimserver/") => Some(endpoint(p).to_owned()),
        Some(_) => None,
    }
}

/// A header's value for the log, at most `max` characters (a caller chooses these bytes).
fn header(h: &HeaderMap, name: &str, max: usize) -> String {
    h.get(name)
        .map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .chars()
                .take(max)
                .collect()
        })
        .unwrap_or_default()
}

pub(super) async fn access(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let Some(endpoint) = label(req.extensions().get::<MatchedPath>()) else {
        return next.run(req).await;
    };
    let started = Instant::now();
    // The connection's address, or the client's as a trusted proxy forwarded it.
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let client = match (peer, req.extensions().get::<ClientAddr>()) {
        (Some(p), Some(ClientAddr(ip))) if p.ip().to_canonical() != *ip => ip.to_string(),
        (Some(p), _) => p.to_string(),
        (None, _) => String::new(),
    };
    let (appkey, request_id) = if s.config.log.access {
        (
            header(req.headers(), "AppKey", 64),
            header(req.headers(), "RequestId", 128),
        )
    } else {
        Default::default()
    };
    let resp = next.run(req).await;
    let elapsed = started.elapsed();
    let code = match resp.extensions().get::<Failed>() {
        Some(Failed(e)) => {
            if e.code == Code::Internal {
                tracing::error!(endpoint = %endpoint, detail = e.detail.as_deref().unwrap_or(""), "internal error");
            }
            e.code.as_u16()
        }
        None => 200,
    };
    metrics::histogram!(API_DURATION, "endpoint" => endpoint.clone()).record(elapsed.as_secs_f64());
    if s.config.log.access {
        let duration_ms = (elapsed.as_secs_f64() * 1e6).round() / 1e3;
        tracing::info!(
            target: "qunfa::access",
            endpoint = %endpoint,
            appkey = %appkey,
            code,
            duration_ms,
            client = %client,
            request_id = %request_id,
            "api call"
        );
    }
    metrics::counter!(API_REQUESTS, "endpoint" => endpoint, "code" => code.to_string())
        .increment(1);
    resp
}
