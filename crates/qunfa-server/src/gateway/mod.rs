//! The WebSocket gateway (`GET /ws`): client login, catch-up from the store, live events,
//! acks and read reports, messages sent by clients and their team answers. The protocol is
//! specified in `docs/protocol.md`; `wire.rs` is the framing, done here rather than by a
//! WebSocket library so frames are encoded once for every recipient and a connection owns no
//! buffer while it is idle.

pub mod client;
mod conn;
pub mod fanout;
mod handle;
pub mod hub;
pub mod protocol;
pub mod session;
pub mod wire;

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::http::ClientAddr;
use crate::state::AppState;

/// Whether a comma-separated header holds `token` (case-insensitive).
fn has_token(h: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    h.get_all(name).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

fn refuse(status: StatusCode, why: &'static str) -> Response {
    (status, why).into_response()
}

/// `GET /ws`: the opening handshake (RFC 6455 §4.2), then the session on the raw socket. The
/// client's address (for login throttling) comes from the listener (`http::serve`): the
/// connection's, or the one a trusted proxy forwarded.
pub async fn upgrade(
    State(s): State<Arc<AppState>>,
    peer: Option<Extension<ClientAddr>>,
    mut req: Request,
) -> Response {
    let h = req.headers();
    if !has_token(h, header::UPGRADE, "websocket") || !has_token(h, header::CONNECTION, "upgrade") {
        return refuse(StatusCode::BAD_REQUEST, "expected a WebSocket upgrade");
    }
    if h.get(header::SEC_WEBSOCKET_VERSION).map(|v| v.as_bytes()) != Some(b"13") {
        let mut r = refuse(StatusCode::UPGRADE_REQUIRED, "WebSocket version 13 only");
        r.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        return r;
    }
    let Some(key) = h
        .get(header::SEC_WEBSOCKET_KEY)
        .map(|k| k.as_bytes().to_vec())
    else {
        return refuse(StatusCode::BAD_REQUEST, "missing Sec-WebSocket-Key");
    };
    let Some(on_upgrade) = req.extensions_mut().remove::<hyper::upgrade::OnUpgrade>() else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "this connection cannot be upgraded",
        );
    };
    let peer = peer.map(|Extension(ClientAddr(ip))| ip);
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => return tracing::debug!(error = %e, "websocket upgrade failed"),
        };
        // The listener serves plain TCP sockets; take ours back, with anything the client
        // sent after its request.
        match upgraded.downcast::<TokioIo<TcpStream>>() {
            Ok(parts) => session::run(s, parts.io.into_inner(), parts.read_buf, peer).await,
            Err(_) => tracing::error!("upgraded connection is not a TCP socket"),
        }
    });
    let accept = wire::accept_key(&key);
    let mut r = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let headers = r.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    r
}
