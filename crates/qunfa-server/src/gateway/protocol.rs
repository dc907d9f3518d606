//! The client protocol's frames (specified in `docs/protocol.md`): what a client may send, what
//! the server sends, and every close code, in one place.

use bytes::Bytes;
use qunfa_core::ApiError;
use qunfa_core::account::Accid;
use qunfa_core::ids::MsgId;
use qunfa_core::message::{Message, MsgKind};
use serde::Deserialize;
use serde_json::{Value, json};

use super::hub::Outbound;
use super::wire;
use crate::views::{self, View};

/// Close codes the server sends.
pub mod close {
    /// The server is shutting down: reconnect (elsewhere, or later).
    pub const GOING_AWAY: u16 = 1001;
    /// A frame the protocol does not have (binary, unknown `op`, malformed JSON, a first frame
    /// that is not a login).
    pub const PROTOCOL: u16 = 1008;
    /// A frame larger than `gateway.max_frame_bytes`.
    pub const TOO_BIG: u16 = 1009;
    /// The server failed (the store is unreachable); reconnect later.
    pub const INTERNAL: u16 = 1011;
    /// The login was refused; the `login` frame before it says why.
    pub const LOGIN_REFUSED: u16 = 4001;
    /// No login within `gateway.login_timeout_secs`, or silent past `gateway.idle_timeout_secs`.
    pub const TIMEOUT: u16 = 4002;
    /// The account was blocked or its token changed; a `kick` frame says which.
    pub const KICKED: u16 = 4003;
    /// The client fell `gateway.queue_frames` behind: reconnect with your cursor.
    pub const TOO_SLOW: u16 = 4008;
}

/// The first frame: `{"op":"login", appkey, accid, token, cursor}`.
#[derive(Deserialize)]
pub struct Login {
    pub appkey: String,
    pub accid: String,
    pub token: String,
    #[serde(default)]
    pub cursor: i64,
}

/// Frames after the login.
#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum ClientFrame {
    Ack { cursor: i64 },
    Read { msgids: Vec<i64> },
    Ping,
}

/// Why a first frame is not a login.
#[derive(Debug)]
pub enum NotLogin {
    /// Not a JSON object with `"op":"login"`: a protocol violation (close 1008).
    Protocol(&'static str),
    /// A login frame with a missing or mistyped field: refused with 414 (close 4001).
    Bad(ApiError),
}

/// Parses the first frame.
pub fn parse_login(raw: &str) -> Result<Login, NotLogin> {
    let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(raw) else {
        return Err(NotLogin::Protocol(
            "the first frame must be a JSON login object",
        ));
    };
    if v.get("op").and_then(Value::as_str) != Some("login") {
        return Err(NotLogin::Protocol(
            "the first frame must be {\"op\":\"login\",…}",
        ));
    }
    serde_json::from_value(v).map_err(|e| NotLogin::Bad(ApiError::param(format!("bad login: {e}"))))
}

/// A JSON frame, as a complete WebSocket text frame.
fn text(v: Value) -> Bytes {
    wire::text(&v.to_string())
}

/// A login that succeeded, as answered.
pub struct LoggedIn<'a> {
    pub accid: &'a Accid,
    pub cursor: MsgId,
    /// The cursor the client gave was above anything the store holds (a client that kept its
    /// cursor across a restored or recreated data directory): it is answered the store's
    /// latest msgid instead, and continues from there.
    pub reset: bool,
    pub time: i64,
}

/// The answer to a login: 200, or the refusal's code and `desc`.
pub fn login_answer(result: Result<LoggedIn<'_>, &ApiError>) -> Bytes {
    text(match result {
        Ok(l) if l.reset => {
            json!({"op": "login", "code": 200, "accid": l.accid, "cursor": l.cursor, "reset": true, "time": l.time})
        }
        Ok(l) => {
            json!({"op": "login", "code": 200, "accid": l.accid, "cursor": l.cursor, "time": l.time})
        }
        Err(e) => json!({"op": "login", "code": e.code.as_u16(), "desc": e.desc}),
    })
}

pub fn synced(cursor: MsgId) -> Bytes {
    text(json!({"op": "synced", "cursor": cursor}))
}

pub fn pong(time: i64) -> Bytes {
    text(json!({"op": "pong", "time": time}))
}

pub fn kick(reason: &str) -> Bytes {
    text(json!({"op": "kick", "reason": reason}))
}

/// The frame for a stored message: `msg`, or `recall` for a recall tombstone. Encoded once
/// per message, WebSocket header included, and shared by every recipient.
pub fn message(m: &Message) -> Outbound {
    let v = match m.kind {
        MsgKind::Recall => json!({
            "op": "recall",
            "msgid": m.msgid,
            "recallMsgid": m.ref_msgid,
            "from": m.from,
            "time": m.timetag,
        }),
        _ => json!({"op": "msg", "msg": views::message(m, View::User)}),
    };
    Outbound {
        msgid: Some(m.msgid),
        frame: text(v),
    }
}

pub fn receipt(msgid: MsgId, reader: &Accid, time: i64) -> Outbound {
    let v = json!({"op": "receipt", "msgid": msgid, "reader": reader, "time": time});
    Outbound {
        msgid: None,
        frame: text(v),
    }
}
