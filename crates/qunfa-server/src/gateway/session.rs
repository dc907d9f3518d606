//! One client connection: login, catch-up, then live events until it ends.
//! (The socket and its buffers are `conn`.)
//!
//! One task per connection on the raw socket (`wire` does the framing), woken by the client's
//! frames and by the hub (a frame queued, a close asked for; pings are queued frames too, from
//! the hub's sweep). Everything queued
//! for the connection goes out in one `sendmsg` straight from the shared frame bytes: no copy
//! per connection and no write buffer that keeps its peak size after a burst; the read buffer
//! is given back whenever the connection is idle.

use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use qunfa_core::ids::MsgId;
use qunfa_service::login::Session;
use tokio::net::TcpStream;

use super::conn::{Conn, Woken};
use super::hub::SessionHandle;
use super::protocol::{self, ClientFrame, NotLogin, close};
use super::wire::{self, Incoming, Refused};
use crate::state::AppState;

/// Most msgids one `read` frame may report.
const MAX_READS_PER_FRAME: usize = 1000;

/// Why the server ends a session: the close code and reason to send.
type Closing = Result<(), (u16, &'static str)>;

pub async fn run(s: Arc<AppState>, tcp: TcpStream, pre: Bytes, peer: Option<std::net::IpAddr>) {
    let g = &s.config.gateway;
    let close_within = Duration::from_secs(g.close_timeout_secs.max(1));
    let mut conn = Conn::new(tcp, g.max_frame_bytes);
    if !pre.is_empty() {
        conn.reader.buffer().extend_from_slice(&pre);
    }
    // It may hold hyper's whole read buffer alive; this future lives as long as the client.
    drop(pre);
    let first = tokio::time::timeout(Duration::from_secs(g.login_timeout_secs), conn.next()).await;
    let raw = match first {
        Err(_) => {
            return conn
                .close(&[], close::TIMEOUT, "login timeout", close_within)
                .await;
        }
        Ok(Ok(Some(Incoming::Text(t)))) => t,
        Ok(Ok(Some(_))) => {
            let why = "expected a login text frame";
            return conn.close(&[], close::PROTOCOL, why, close_within).await;
        }
        Ok(Ok(None)) => return,
        Ok(Err(Refused::TooBig)) => {
            return conn
                .close(&[], close::TOO_BIG, "frame too large", close_within)
                .await;
        }
        Ok(Err(Refused::Protocol(why))) => {
            return conn.close(&[], close::PROTOCOL, why, close_within).await;
        }
    };
    let parsed = protocol::parse_login(&raw);
    // Locals of this future live as long as the connection: keep only what the session needs.
    drop(raw);
    let login = match parsed {
        // Boxed, like the catch-up below: an async fn is as large as its largest state, and
        // this one lasts as long as the connection.
        Ok(l) => match l.client() {
            Ok(client) => Box::pin(
                s.services
                    .login(&l.appkey, &l.accid, &l.token, l.cursor, peer),
            )
            .await
            .map(|mut who| {
                who.client = client;
                who
            }),
            Err(e) => Err(e),
        },
        Err(NotLogin::Protocol(why)) => {
            logins("bad_request");
            tracing::info!(client = %client(peer), desc = why, "login refused");
            return conn.close(&[], close::PROTOCOL, why, close_within).await;
        }
        Err(NotLogin::Bad(e)) => Err(e),
    };
    let who = match login {
        Ok(w) => {
            logins("ok");
            w
        }
        Err(e) => {
            if let Some(detail) = &e.detail {
                tracing::error!(detail = %detail, "login lookup failed");
            }
            logins(crate::metrics::login_result(Some(e.code)));
            tracing::info!(
                client = %client(peer),
                code = e.code.as_u16(),
                desc = %e.desc,
                "login refused"
            );
            let answer = protocol::login_answer(Err(&e));
            return conn
                .close(
                    &[answer],
                    close::LOGIN_REFUSED,
                    "login refused",
                    close_within,
                )
                .await;
        }
    };
    // Register before catching up: anything delivered live from now on is queued, anything
    // committed before is in the store. The overlap is dropped by msgid below.
    let (handle, _) = s.hub.register(who.app.id, who.ordinal, who.kick_seq);
    crate::callbacks::copy_login(&s, &who, peer, true);
    let result = serve(&s, &who, &handle, &mut conn).await;
    s.hub.unregister(who.app.id, &handle);
    if let Some(tail) = handle.detach() {
        // The rest of a frame the hub wrote partly (nothing else can be queued before it).
        conn.out.push_front(tail);
        conn.offset = 0;
        conn.head_started = true;
    }
    if handle.close_code() == close::TOO_SLOW {
        metrics::counter!(crate::metrics::SLOW_CLOSES).increment(1);
    }
    crate::callbacks::copy_login(&s, &who, peer, false);
    let (last, code, reason): (Vec<Bytes>, u16, &str) = match handle.close_code() {
        0 => match result {
            Ok(()) => (vec![], 1000, ""),
            Err((code, reason)) => (vec![], code, reason),
        },
        close::KICKED => {
            let reason = handle.kick_reason().unwrap_or_else(|| "kicked".into());
            (vec![protocol::kick(&reason)], close::KICKED, "kicked")
        }
        close::TOO_SLOW => (
            vec![],
            close::TOO_SLOW,
            "too slow: reconnect with your cursor",
        ),
        close::GOING_AWAY => (vec![], close::GOING_AWAY, "server going away"),
        close::TIMEOUT => (vec![], close::TIMEOUT, "idle timeout"),
        c => (vec![], c, ""),
    };
    conn.close(&last, code, reason, close_within).await;
}

async fn serve(s: &AppState, who: &Session, handle: &SessionHandle, conn: &mut Conn) -> Closing {
    let cursor = Box::pin(catch_up(s, who, handle, conn)).await?;
    let Some(cursor) = cursor else {
        return Ok(());
    };
    live(s, who, handle, conn, cursor).await
}

/// The login answer, then what the account received after its cursor, page by page, each page
/// in one write, then `synced`. Answers the cursor reached (`None`: the session is closing).
async fn catch_up(
    s: &AppState,
    who: &Session,
    handle: &SessionHandle,
    conn: &mut Conn,
) -> Result<Option<MsgId>, (u16, &'static str)> {
    let g = &s.config.gateway;
    let svc = &s.services;
    let gone = |_| (1006u16, "");
    let answer = protocol::login_answer(Ok(protocol::LoggedIn {
        accid: &who.accid,
        cursor: who.cursor,
        reset: who.reset,
        time: svc.now_ms(),
    }));
    conn.write_one(answer).await.map_err(gone)?;
    let mut cursor = who.cursor;
    let mut replayed = 0usize;
    loop {
        let page = svc
            .store
            .user_messages(who.app.id, who.ordinal, cursor, g.sync_page, svc.now_ms())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "sync query failed");
                (close::INTERNAL, "internal error")
            })?;
        let frames = page.iter().map(|m| protocol::message(m).frame);
        if let Some(m) = page.last() {
            cursor = m.msgid;
        }
        replayed += page.len();
        match unless_closing(handle, conn.write(frames)).await {
            Some(r) => r.map_err(gone)?,
            None => return Ok(None),
        }
        if page.len() < g.sync_page {
            break;
        }
        if handle.close_code() != 0 {
            return Ok(None);
        }
    }
    conn.write_one(protocol::synced(cursor))
        .await
        .map_err(gone)?;
    metrics::histogram!(crate::metrics::CATCHUP_MESSAGES).record(replayed as f64);
    // Invitations still waiting for an answer, on every login.
    let invites = Box::pin(super::client::pending_invites(s, who)).await;
    conn.write(invites).await.map_err(gone)?;
    conn.reader.shrink();
    Ok(Some(cursor))
}

/// Live events until the session ends.
///
/// One hand-written poll per wake-up: a close request first, then everything queued goes out
/// (taken from the hub only once the previous write is complete, so a client that stops
/// reading fills its hub queue and is closed as too slow), then the socket is read. No
/// `select!` re-arming a set of futures on every wake-up, no timer: the hub's sweep queues the
/// pings and closes idle sessions.
async fn live(
    s: &AppState,
    who: &Session,
    handle: &SessionHandle,
    conn: &mut Conn,
    cursor: MsgId,
) -> Closing {
    loop {
        match std::future::poll_fn(|cx| conn.poll_live(cx, handle, cursor)).await {
            Woken::Closing => return Ok(()),
            Woken::Gone => return Err((1006, "")),
            Woken::Read => {}
        }
        handle.heard(s.hub.now_ms());
        loop {
            let m = match conn.reader.next_message() {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(Refused::TooBig) => return Err((close::TOO_BIG, "frame too large")),
                Err(Refused::Protocol(why)) => return Err((close::PROTOCOL, why)),
            };
            let reply = match m {
                // Boxed: a client frame is rare, and its future inline would size every
                // idle session.
                Incoming::Text(t) => Box::pin(handle_frame(s, who, &t)).await?,
                Incoming::Ping(p) => Some(wire::pong(&p)),
                Incoming::Pong => None,
                Incoming::Close(_) => return Ok(()),
                Incoming::Binary => {
                    return Err((
                        close::PROTOCOL,
                        "binary frames are not part of the protocol",
                    ));
                }
            };
            if let Some(frame) = reply {
                // Written with the next wake-up's queue (the loop polls again right away).
                conn.out.push_back(frame);
            }
        }
        conn.reader.shrink();
    }
}

fn logins(result: &'static str) {
    metrics::counter!(crate::metrics::GATEWAY_LOGINS, "result" => result).increment(1);
}

/// The client's address for the log (`unknown` when the listener did not give it).
fn client(peer: Option<std::net::IpAddr>) -> String {
    peer.map_or_else(|| "unknown".into(), |ip| ip.to_string())
}

/// Runs `fut` (a write) unless the hub asks the session to close first: `None` then.
async fn unless_closing<T>(handle: &SessionHandle, fut: impl Future<Output = T>) -> Option<T> {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| {
        handle.register_waker(cx);
        if handle.closing() {
            return Poll::Ready(None);
        }
        fut.as_mut().poll(cx).map(Some)
    })
    .await
}

/// Handles one client frame; `Some` is a reply to send.
async fn handle_frame(
    s: &AppState,
    who: &Session,
    raw: &str,
) -> Result<Option<Bytes>, (u16, &'static str)> {
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
