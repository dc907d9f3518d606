//! The WebSocket gateway (`GET /ws`): client login, catch-up from the store, live events,
//! acks and read reports, messages sent by clients and their team answers. The protocol is specified in `docs/protocol.md`.

pub mod client;
pub mod fanout;
pub mod hub;
pub mod protocol;
pub mod session;

use std::sync::Arc;

use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::response::Response;

use crate::state::AppState;

pub async fn upgrade(State(s): State<Arc<AppState>>, ws: WebSocketUpgrade) -> Response {
    let g = &s.config.gateway;
    ws.read_buffer_size(g.read_buffer_bytes)
        .write_buffer_size(g.write_buffer_bytes)
        .max_message_size(g.max_frame_bytes)
        .max_frame_size(g.max_frame_bytes)
        .on_upgrade(move |socket| session::run(s, socket))
}
