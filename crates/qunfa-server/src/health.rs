//! The operator's endpoints, unsigned: `GET /healthz` (the process answers), `GET /readyz`
//! (this node can serve: its store answers), `GET /metrics` (Prometheus text). They are on
//! the API listener, and with `metrics.listen` set, on that listener too (`/metrics` then only
//! there). NIM's own liveness call (`/nimserver/health/liveness.action`) stays in the API.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::state::AppState;

/// How long `/readyz` waits for the store before it answers 503.
const STORE_WAIT: Duration = Duration::from_secs(2);

/// `/healthz`, `/readyz` and `/metrics` on the API listener (`/metrics` answers 404 there
/// when `metrics.listen` gives it a listener of its own).
pub fn routes() -> crate::api::Routes<Arc<AppState>> {
    crate::api::Routes::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(api_metrics))
}

/// The router of the `metrics.listen` listener.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .with_state(state)
}

async fn api_metrics(state: State<Arc<AppState>>) -> Response {
    if !state.config.metrics.listen.trim().is_empty() {
        return text(
            StatusCode::NOT_FOUND,
            "not found: /metrics is served on metrics.listen\n".into(),
        );
    }
    metrics(state).await
}

async fn healthz() -> Response {
    text(StatusCode::OK, "ok\n".into())
}

/// 200 when a cheap store read (the app table) succeeds within [`STORE_WAIT`], else 503 with
/// the reason. The bus is reported, not required: with NATS away a node still serves and
/// reaches the other nodes by polling the store (`bus.poll_ms`), so it stays ready.
async fn readyz(State(s): State<Arc<AppState>>) -> Response {
    let store = match tokio::time::timeout(STORE_WAIT, s.services.store.list_apps()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check: the store failed");
            Err("the store refused a read (see the server log)".to_owned())
        }
        Err(_) => {
            tracing::warn!("readiness check: the store did not answer");
            Err(format!(
                "the store did not answer within {} s",
                STORE_WAIT.as_secs()
            ))
        }
    };
    let bus = if s.config.bus.url.trim().is_empty() {
        "in-process".to_owned()
    } else if s.services.bus.connected() {
        "nats connected".to_owned()
    } else {
        format!(
            "nats unreachable: reaching other nodes by polling the store every {} ms",
            s.config.bus.poll_ms
        )
    };
    let (status, body) = match store {
        Ok(()) => (
            StatusCode::OK,
            json!({"status": "ready", "store": "ok", "bus": bus}),
        ),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "not ready", "store": why, "bus": bus}),
        ),
    };
    let mut resp = (status, format!("{body}\n")).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

async fn metrics(State(s): State<Arc<AppState>>) -> Response {
    match crate::metrics::render(&s) {
        Some(body) => {
            let mut resp = text(StatusCode::OK, body);
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            resp
        }
        None => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics are off: another recorder was installed in this process\n".into(),
        ),
    }
}

fn text(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
