//! One client connection: login, catch-up, then live events until it ends.
//!
//! One task per connection, `select!`ing over the client's frames, the hub's queue, the
//! ping timer and close requests: fewer tasks and buffers per connection than a reader/writer
//! pair, and writes are still batched (all queued frames go out in one flush).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket};
use futures_util::{SinkExt, StreamExt};
use qunfa_core::ids::MsgId;
use qunfa_service::login::Session;

use super::hub::{Inbox, SessionHandle};
use super::protocol::{self, ClientFrame, close};
use crate::state::AppState;

fn close_frame(code: u16, reason: &str) -> WsMessage {
    WsMessage::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from(reason),
    }))
}

pub async fn run(s: Arc<AppState>, mut socket: WebSocket) {
    let g = &s.config.gateway;
    let first =
        tokio::time::timeout(Duration::from_secs(g.login_timeout_secs), socket.recv()).await;
    let raw = match first {
        Err(_) => {
            let _ = socket
                .send(close_frame(close::TIMEOUT, "login timeout"))
                .await;
            return;
        }
        Ok(Some(Ok(WsMessage::Text(t)))) => t,
        Ok(Some(Ok(_))) => {
            let _ = socket
                .send(close_frame(close::PROTOCOL, "expected a login text frame"))
                .await;
            return;
        }
        Ok(_) => return,
    };
    let login = match protocol::parse_login(raw.as_str()) {
        Ok(l) => {
            s.services
                .login(&l.appkey, &l.accid, &l.token, l.cursor)
                .await
        }
        Err(e) => Err(e),
    };
    let who = match login {
        Ok(w) => w,
        Err(e) => {
            if let Some(detail) = &e.detail {
                tracing::error!(detail = %detail, "login lookup failed");
            }
            tracing::debug!(code = e.code.as_u16(), desc = %e.desc, "login refused");
            let _ = socket
                .send(WsMessage::Text(protocol::login_answer(Err(&e))))
                .await;
            let _ = socket
                .send(close_frame(close::LOGIN_REFUSED, "login refused"))
                .await;
            return;
        }
    };
    // Register before catching up: anything delivered live from now on is queued, anything
    // committed before is in the store. The overlap is dropped by msgid below.
    let (handle, rx) = s.hub.register(who.app.id, who.ordinal, who.kick_seq);
    let result = serve(&s, &who, &handle, rx, &mut socket).await;
    s.hub.unregister(who.app.id, &handle);
    let last = match handle.close_code() {
        0 => result.err().map(|(c, reason)| close_frame(c, reason)),
        close::KICKED => {
            let reason = handle.kick_reason().unwrap_or_else(|| "kicked".into());
            let kick = socket.send(WsMessage::Text(protocol::kick(&reason)));
            let _ = tokio::time::timeout(Duration::from_secs(5), kick).await;
            Some(close_frame(close::KICKED, "kicked"))
        }
        close::TOO_SLOW => Some(close_frame(
            close::TOO_SLOW,
            "too slow: reconnect with your cursor",
        )),
        close::GOING_AWAY => Some(close_frame(close::GOING_AWAY, "server going away")),
        c => Some(close_frame(c, "")),
    };
    // A client that is not reading may never take the close frame: give it a few seconds.
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        if let Some(f) = last {
            let _ = socket.send(f).await;
        }
        let _ = socket.close().await;
    })
    .await;
}

type Closing = Result<(), (u16, &'static str)>;

async fn serve(
    s: &AppState,
    who: &Session,
    handle: &SessionHandle,
    mut rx: Inbox,
    socket: &mut WebSocket,
) -> Closing {
    let g = &s.config.gateway;
    let svc = &s.services;
    let gone = |_| (1006u16, "");
    let answer = protocol::login_answer(Ok((&who.accid, who.cursor, svc.now_ms())));
    socket.send(WsMessage::Text(answer)).await.map_err(gone)?;

    // Catch up from the store, page by page.
    let mut cursor = who.cursor;
    loop {
        let page = svc
            .store
            .user_messages(who.app.id, who.ordinal, cursor, g.sync_page, svc.now_ms())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "sync query failed");
                (close::INTERNAL, "internal error")
            })?;
        for m in &page {
            socket
                .feed(WsMessage::Text(protocol::message(m).frame))
                .await
                .map_err(gone)?;
            cursor = m.msgid;
        }
        if page.len() < g.sync_page {
            break;
        }
        socket.flush().await.map_err(gone)?;
        if handle.close_code() != 0 {
            return Ok(());
        }
    }
    socket
        .send(WsMessage::Text(protocol::synced(cursor)))
        .await
        .map_err(gone)?;
    // Invitations still waiting for an answer, on every login.
    for f in super::client::pending_invites(s, who).await {
        socket.send(WsMessage::Text(f)).await.map_err(gone)?;
    }

    let (mut sink, mut stream) = socket.split();
    let mut ping = tokio::time::interval(Duration::from_secs(g.ping_secs.max(1)));
    ping.tick().await;
    let idle = Duration::from_secs(g.idle_timeout_secs.max(1));
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            biased;
            _ = handle.closing.notified() => return Ok(()),
            out = rx.recv() => {
                let Some(first) = out else { return Ok(()) };
                // Everything queued goes out in one flush. A client that stops reading
                // blocks this write; the hub then asks us to close, and that must win.
                let write = async {
                    let mut next = Some(first);
                    while let Some(o) = next {
                        // Already sent during the catch-up.
                        if o.msgid.is_none_or(|id| id > cursor) {
                            sink.feed(WsMessage::Text(o.frame)).await?;
                        }
                        next = rx.try_recv();
                    }
                    sink.flush().await
                };
                tokio::select! {
                    r = write => r.map_err(gone)?,
                    _ = handle.closing.notified() => return Ok(()),
                }
            }
            inbound = stream.next() => {
                last_heard = Instant::now();
                match inbound {
                    None | Some(Err(_)) | Some(Ok(WsMessage::Close(_))) => return Ok(()),
                    Some(Ok(WsMessage::Text(t))) => {
                        // Boxed: a client frame is rare, and its future inline would size every idle session.
                        if let Some(reply) = Box::pin(handle_frame(s, who, t.as_str())).await? {
                            sink.send(WsMessage::Text(reply)).await.map_err(gone)?;
                        }
                    }
                    Some(Ok(WsMessage::Binary(_))) => {
                        return Err((close::PROTOCOL, "binary frames are not part of the protocol"));
                    }
                    Some(Ok(_)) => {}
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > idle {
                    return Err((close::TIMEOUT, "idle timeout"));
                }
                sink.send(WsMessage::Ping(Default::default())).await.map_err(gone)?;
            }
        }
    }
}

/// Most msgids one `read` frame may report.
const MAX_READS_PER_FRAME: usize = 1000;

/// Handles one client frame; `Some` is a reply to send.
async fn handle_frame(
    s: &AppState,
    who: &Session,
    raw: &str,
) -> Result<Option<Utf8Bytes>, (u16, &'static str)> {
    let frame: ClientFrame =
        serde_json::from_str(raw).map_err(|_| (close::PROTOCOL, "unknown or malformed frame"))?;
    let svc = &s.services;
    match frame {
        ClientFrame::Ping => Ok(Some(protocol::pong(svc.now_ms()))),
        ClientFrame::Ack { cursor } => {
            svc.ack(who.app.id, who.ordinal, MsgId(cursor));
            Ok(None)
        }
        ClientFrame::Read { msgids } => {
            for msgid in msgids.into_iter().take(MAX_READS_PER_FRAME) {
                if let Err(e) = svc
                    .read(who.app.id, who.ordinal, &who.accid, MsgId(msgid))
                    .await
                {
                    tracing::warn!(error = %e, msgid, "read report failed");
                }
            }
            Ok(None)
        }
        other => Ok(super::client::handle(s, who, other).await),
    }
}
