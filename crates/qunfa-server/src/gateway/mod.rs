//! The WebSocket gateway (`GET /ws`): client login, catch-up from the store, live events,
//! acks and read reports. The protocol is specified in `docs/protocol.md`.

pub mod fanout;
pub mod hub;
pub mod protocol;
pub mod session;

use std::sync::Arc;

use axum::Extension;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::response::Response;

use crate::state::AppState;

/// `GET /ws`. The peer's address (for login throttling) comes from the listener
/// (`http::serve`); a request built without one is served without it.
pub async fn upgrade(
    State(s): State<Arc<AppState>>,
    peer: Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
    ws: WebSocketUpgrade,
) -> Response {
    let g = &s.config.gateway;
    let peer = peer.map(|Extension(ConnectInfo(addr))| addr.ip());
    ws.read_buffer_size(g.read_buffer_bytes)
        .write_buffer_size(g.write_buffer_bytes)
        .max_message_size(g.max_frame_bytes)
        .max_frame_size(g.max_frame_bytes)
        .on_upgrade(move |socket| session::run(s, socket, peer))
}
