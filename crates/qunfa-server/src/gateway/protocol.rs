//! The client protocol's frames (specified in `docs/protocol.md`): what a client may send, what
//! the server sends, and every close code, in one place.

use bytes::Bytes;
use qunfa_core::ApiError;
use qunfa_core::account::Accid;
use qunfa_core::bus::Notice;
use qunfa_core::ids::MsgId;
use qunfa_core::message::{Message, MsgKind};
use qunfa_core::team::{Invitation, Tid};
use qunfa_service::client::ClientSent;
use qunfa_service::login::ClientInfo;
use serde::Deserialize;
use serde_json::{Map, Value, json};

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

/// The first frame: `{"op":"login", appkey, accid, token, cursor}`, optionally with the
/// client's `clientType`, `deviceId` and `sdkVersion` (copied to the app's server).
#[derive(Deserialize)]
pub struct Login {
    pub appkey: String,
    pub accid: String,
    pub token: String,
    #[serde(default)]
    pub cursor: i64,
    #[serde(default, rename = "clientType")]
    pub client_type: Option<String>,
    #[serde(default, rename = "deviceId")]
    pub device_id: Option<String>,
    #[serde(default, rename = "sdkVersion")]
    pub sdk_version: Option<String>,
}

/// Longest `deviceId` and `sdkVersion` a login may give.
const MAX_DEVICE_ID: usize = 128;
const MAX_SDK_VERSION: usize = 64;

impl Login {
    /// What the client said of itself: 414 `bad login: …` for a type not in NIM's list or a
    /// field too long.
    pub fn client(&self) -> Result<ClientInfo, ApiError> {
        let client_type = match self.client_type.as_deref().map(str::trim) {
            None | Some("") => "WEB".to_owned(),
            Some(t) if qunfa_core::callback::CLIENT_TYPES.contains(&t) => t.to_owned(),
            Some(t) => {
                return Err(ApiError::param(format!(
                    "bad login: clientType must be one of {}: {t:?}",
                    qunfa_core::callback::CLIENT_TYPES.join(", ")
                )));
            }
        };
        let device_id = self.device_id.clone().unwrap_or_default();
        if device_id.chars().count() > MAX_DEVICE_ID {
            return Err(ApiError::param(format!(
                "bad login: deviceId is longer than {MAX_DEVICE_ID} characters"
            )));
        }
        let sdk_version = self.sdk_version.clone().unwrap_or_default();
        if sdk_version.chars().count() > MAX_SDK_VERSION {
            return Err(ApiError::param(format!(
                "bad login: sdkVersion is longer than {MAX_SDK_VERSION} characters"
            )));
        }
        Ok(ClientInfo {
            client_type,
            device_id,
            sdk_version,
        })
    }
}

/// Frames after the login. The fields of `send` and of the team frames are checked by the
/// gateway as the HTTP API checks its parameters (a refusal answers with NIM's code), so they
/// arrive as objects.
#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum ClientFrame {
    Ack {
        cursor: i64,
    },
    Read {
        msgids: Vec<i64>,
    },
    Ping,
    /// A point-to-point (`ope` 0) or team (`ope` 1) message from the session's account.
    Send(Map<String, Value>),
    /// Recall of one's own message: `{"op":"recallMsg","msgid":…}`.
    RecallMsg(Map<String, Value>),
    AcceptInvite(Map<String, Value>),
    RejectInvite(Map<String, Value>),
    Apply(Map<String, Value>),
    PassApply(Map<String, Value>),
    RejectApply(Map<String, Value>),
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

/// The frame for a stored message: `msg`, `recall` for a recall tombstone, `notify` for a
/// custom notification. Encoded once per message, WebSocket header included, and shared by
/// every recipient.
pub fn message(m: &Message) -> Outbound {
    let v = match m.kind {
        MsgKind::Recall => {
            let mut v = json!({
                "op": "recall",
                "msgid": m.msgid,
                "recallMsgid": m.ref_msgid,
                "from": m.from,
                "time": m.timetag,
            });
            if let Some(tid) = m.tid {
                v["tid"] = json!(tid);
            }
            v
        }
        MsgKind::Notify => {
            let mut v = json!({
                "op": "notify",
                "msgid": m.msgid,
                "from": m.from,
                "attach": m.body,
                "time": m.timetag,
            });
            match (m.tid, &m.to) {
                (Some(tid), _) => v["tid"] = json!(tid),
                (None, Some(to)) => v["to"] = json!(to),
                _ => {}
            }
            v
        }
        _ => json!({"op": "msg", "msg": views::message(m, View::User)}),
    };
    Outbound {
        msgid: Some(m.msgid),
        frame: text(v),
    }
}

pub fn receipt(msgid: MsgId, reader: &Accid, time: i64, tid: Option<Tid>) -> Outbound {
    let mut v = json!({"op": "receipt", "msgid": msgid, "reader": reader, "time": time});
    if let Some(tid) = tid {
        v["tid"] = json!(tid);
    }
    Outbound {
        msgid: None,
        frame: text(v),
    }
}

/// A refusal's `code` and `desc` into a reply object.
fn refusal(v: &mut Value, e: &ApiError) {
    v["code"] = json!(e.code.as_u16());
    v["desc"] = json!(e.desc);
}

/// The answer to `send`: the stored message's id, the app server's refusal (403, with its
/// `responseCode` when it gave one), or the refusal `sendMsg` would give.
pub fn sent(msgid_client: Option<&str>, result: Result<&ClientSent, &ApiError>) -> Bytes {
    let mut v = json!({"op": "sent", "msgidClient": msgid_client});
    match result {
        Ok(ClientSent::Stored(x)) => {
            v["code"] = json!(200);
            v["msgid"] = json!(x.msgid);
            v["timetag"] = json!(x.timetag);
            v["antispam"] = json!(x.antispam);
        }
        Ok(ClientSent::Blocked { response_code }) => {
            v["code"] = json!(403);
            v["desc"] = json!("blocked by the app server");
            if let Some(rc) = response_code {
                v["responseCode"] = json!(rc);
            }
        }
        Err(e) => refusal(&mut v, e),
    }
    text(v)
}

/// The answer to `recallMsg`.
pub fn recall_result(msgid: Option<i64>, result: Result<(), &ApiError>) -> Bytes {
    let mut v = json!({"op": "recallMsgResult", "msgid": msgid});
    match result {
        Ok(()) => v["code"] = json!(200),
        Err(e) => refusal(&mut v, e),
    }
    text(v)
}

/// The answer to a team frame (`acceptInvite`, `apply`, …), echoing its `req`.
pub fn result(req: Option<&Value>, result: Result<Option<Value>, ApiError>) -> Bytes {
    let mut v = json!({"op": "result", "req": req.cloned().unwrap_or(Value::Null)});
    match result {
        Ok(data) => {
            v["code"] = json!(200);
            if let Some(d) = data {
                v["data"] = d;
            }
        }
        Err(e) => refusal(&mut v, &e),
    }
    text(v)
}

/// A pending invitation, as `teamInvite` (live, and after `synced` until answered).
pub fn team_invite(inv: &Invitation, tname: &str) -> Bytes {
    notice(&Notice::TeamInvite {
        tid: inv.tid,
        tname: tname.to_owned(),
        inviter: inv.inviter.clone(),
        msg: inv.msg.clone(),
        attach: inv.attach.clone(),
        time: inv.time_ms,
    })
    .frame
}

/// A notice (not a stored message, so outside the msgid sequence).
pub fn notice(n: &Notice) -> Outbound {
    let v = match n {
        Notice::TeamInvite {
            tid,
            tname,
            inviter,
            msg,
            attach,
            time,
        } => {
            let mut v = json!({"op": "teamInvite", "tid": tid, "tname": tname, "inviter": inviter,
                "msg": msg, "time": time});
            if let Some(a) = attach {
                v["attach"] = json!(a);
            }
            v
        }
        Notice::TeamApply {
            tid,
            accid,
            msg,
            time,
        } => json!({"op": "teamApply", "tid": tid, "accid": accid, "msg": msg, "time": time}),
        Notice::TeamInviteRejected {
            tid,
            accid,
            msg,
            time,
        } => {
            json!({"op": "teamInviteRejected", "tid": tid, "accid": accid, "msg": msg, "time": time})
        }
        Notice::TeamApplyRejected { tid, by, msg, time } => {
            json!({"op": "teamApplyRejected", "tid": tid, "by": by, "msg": msg, "time": time})
        }
    };
    Outbound {
        msgid: None,
        frame: text(v),
    }
}
