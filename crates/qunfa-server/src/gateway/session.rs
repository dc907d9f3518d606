//! One client connection: login, catch-up, then live events until it ends.
//!
//! One task per connection, `select!`ing over the client's frames, the hub's queue, the
//! ping timer and close requests: fewer tasks and buffers per connection than a reader/writer
//! pair, and writes are still batched (all queued frames go out in one flush).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket};
use futures_util::{SinkExt, StreamExt};
use qunfa_core::account::{Accid, hash_token};
use qunfa_core::auth::App;
use qunfa_core::message::MsgKind;
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::frames;
use crate::hub::{Delivery, SessionHandle, Target};
use crate::state::AppState;

pub mod code {
    pub const PROTOCOL: u16 = 1008;
    pub const LOGIN_REFUSED: u16 = 4001;
    pub const TIMEOUT: u16 = 4002;
}

#[derive(Deserialize)]
struct Login {
    appkey: String,
    accid: String,
    token: String,
    #[serde(default)]
    cursor: i64,
}

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
enum ClientFrame {
    Ack { cursor: i64 },
    Read { msgids: Vec<i64> },
    Ping,
}

fn text(v: Value) -> WsMessage {
    WsMessage::Text(Utf8Bytes::from(v.to_string()))
}

fn close(code: u16, reason: &'static str) -> WsMessage {
    WsMessage::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }))
}

/// Who logged in.
struct Who {
    app: Arc<App>,
    accid: Accid,
    ordinal: u32,
    cursor: i64,
}

/// Checks a login frame: `Err((code, desc))` for the answer.
async fn login(s: &AppState, raw: &str) -> Result<Who, (u16, String)> {
    let bad = |what: String| (414u16, format!("bad login: {what}"));
    let v: Value = serde_json::from_str(raw).map_err(|_| bad("not a JSON object".into()))?;
    if v.get("op").and_then(Value::as_str) != Some("login") {
        return Err(bad("the first frame must be {\"op\":\"login\",…}".into()));
    }
    let l: Login = serde_json::from_value(v).map_err(|e| bad(e.to_string()))?;
    let internal = |e: qunfa_core::StoreError| {
        tracing::error!(error = %e, "login lookup failed");
        (500u16, "internal error".to_owned())
    };
    let app = s
        .apps
        .get(&l.appkey)
        .await
        .map_err(internal)?
        .ok_or((414, "appkey".to_owned()))?;
    if app.disabled {
        return Err((403, "app is forbidden".into()));
    }
    let wrong = || (302u16, "wrong accid or token".to_owned());
    let accid = Accid::parse(&l.accid, "accid").map_err(|_| wrong())?;
    let ix = s.indexes.get(app.id).await.map_err(internal)?;
    let ordinal = ix.read().ordinal_of(accid.as_str()).ok_or_else(wrong)?;
    let stored = s
        .store
        .token_hash(app.id, &accid)
        .await
        .map_err(internal)?
        .ok_or_else(wrong)?;
    if !bool::from(stored.ct_eq(&hash_token(&accid, &l.token))) {
        return Err(wrong());
    }
    if ix.read().is_blocked(ordinal) {
        return Err((422, "account is blocked".into()));
    }
    Ok(Who {
        app,
        accid,
        ordinal,
        cursor: l.cursor.max(0),
    })
}

pub async fn run(s: Arc<AppState>, mut socket: WebSocket) {
    let g = &s.config.gateway;
    let first =
        tokio::time::timeout(Duration::from_secs(g.login_timeout_secs), socket.recv()).await;
    let raw = match first {
        Err(_) => {
            let _ = socket.send(close(code::TIMEOUT, "login timeout")).await;
            return;
        }
        Ok(Some(Ok(WsMessage::Text(t)))) => t,
        Ok(Some(Ok(_))) => {
            let _ = socket
                .send(close(code::PROTOCOL, "expected a login text frame"))
                .await;
            return;
        }
        Ok(_) => return,
    };
    let who = match login(&s, raw.as_str()).await {
        Ok(w) => w,
        Err((c, desc)) => {
            tracing::debug!(code = c, desc = %desc, "login refused");
            let _ = socket
                .send(text(json!({"op": "login", "code": c, "desc": desc})))
                .await;
            let _ = socket
                .send(close(code::LOGIN_REFUSED, "login refused"))
                .await;
            return;
        }
    };
    // Register before catching up: anything committed from now on is queued, anything
    // committed before is in the store. The overlap is dropped by msgid below.
    let (handle, rx) = s.hub.register(who.app.id, who.ordinal);
    let result = serve(&s, &who, &handle, rx, &mut socket).await;
    s.hub.unregister(who.app.id, &handle);
    let code = handle.close_code();
    let last = match code {
        0 => result.err().map(|(c, reason)| close(c, reason)),
        crate::hub::close::KICKED => {
            let reason = handle.kick_reason().unwrap_or("kicked");
            let kick = socket.send(text(json!({"op": "kick", "reason": reason})));
            let _ = tokio::time::timeout(Duration::from_secs(5), kick).await;
            Some(close(code, "kicked"))
        }
        crate::hub::close::TOO_SLOW => Some(close(code, "too slow: reconnect with your cursor")),
        crate::hub::close::GOING_AWAY => Some(close(code, "server going away")),
        c => Some(close(c, "")),
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
    who: &Who,
    handle: &SessionHandle,
    mut rx: crate::hub::Inbox,
    socket: &mut WebSocket,
) -> Closing {
    let g = &s.config.gateway;
    let gone = |_| (1006u16, "");
    socket
        .send(text(json!({"op": "login", "code": 200, "accid": who.accid, "cursor": who.cursor, "time": s.now_ms()})))
        .await
        .map_err(gone)?;

    // Catch up from the store, page by page.
    let mut cursor = who.cursor;
    loop {
        let page = s
            .store
            .user_messages(who.app.id, who.ordinal, cursor, g.sync_page, s.now_ms())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "sync query failed");
                (1011u16, "internal error")
            })?;
        for m in &page {
            socket
                .feed(WsMessage::Text(frames::message(m).frame))
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
        .send(text(json!({"op": "synced", "cursor": cursor})))
        .await
        .map_err(gone)?;

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
                        if let Some(reply) = handle_frame(s, who, t.as_str()).await? {
                            sink.send(text(reply)).await.map_err(gone)?;
                        }
                    }
                    Some(Ok(WsMessage::Binary(_))) => return Err((code::PROTOCOL, "binary frames are not part of the protocol")),
                    Some(Ok(_)) => {}
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > idle {
                    return Err((code::TIMEOUT, "idle timeout"));
                }
                sink.send(WsMessage::Ping(Default::default())).await.map_err(gone)?;
            }
        }
    }
}

/// Handles one client frame; `Some` is a reply to send.
async fn handle_frame(
    s: &AppState,
    who: &Who,
    raw: &str,
) -> Result<Option<Value>, (u16, &'static str)> {
    let frame: ClientFrame =
        serde_json::from_str(raw).map_err(|_| (code::PROTOCOL, "unknown or malformed frame"))?;
    match frame {
        ClientFrame::Ping => Ok(Some(json!({"op": "pong", "time": s.now_ms()}))),
        ClientFrame::Ack { cursor } => {
            s.tracker.ack(who.app.id, who.ordinal, cursor);
            Ok(None)
        }
        ClientFrame::Read { msgids } => {
            for msgid in msgids.into_iter().take(1000) {
                if let Err(e) = record_read(s, who.app.id, who.ordinal, &who.accid, msgid).await {
                    tracing::warn!(error = %e, msgid, "read report failed");
                }
            }
            Ok(None)
        }
    }
}

/// Records that `ordinal` read `msgid` (when it is a `markRead` message it received) and
/// tells the sender's sessions.
pub async fn record_read(
    s: &AppState,
    app: i64,
    ordinal: u32,
    reader: &Accid,
    msgid: i64,
) -> Result<bool, qunfa_core::StoreError> {
    let Some(m) = s.store.message(app, msgid).await? else {
        return Ok(false);
    };
    // Point-to-point messages always take receipts (NIM); others only when sent with markRead.
    if (m.kind != MsgKind::P2p && !m.mark_read) || m.antispam || m.recalled_ms.is_some() {
        return Ok(false);
    }
    let received = match m.kind {
        MsgKind::P2p => m.to.as_deref() == Some(reader.as_str()),
        MsgKind::Mass | MsgKind::Broadcast => s
            .audiences
            .get(s.store.as_ref(), app, msgid)
            .await?
            .is_some_and(|a| a.contains(ordinal)),
        MsgKind::Recall => false,
    };
    if !received {
        return Ok(false);
    }
    s.tracker.read(app, msgid, ordinal);
    let sender = s.indexes.get(app).await?.read().ordinal_of(&m.from);
    if let Some(sender) = sender {
        let out = frames::receipt(msgid, reader.as_str(), s.now_ms());
        s.hub.publish(Delivery {
            app,
            target: Target::One(sender),
            out,
        });
    }
    Ok(true)
}
