//! How a stored message is shown: in history answers (NIM's field names for NIM's endpoints,
//! qunfa's for its own) and in the gateway's `msg` frames. One module, used by the API and
//! the gateway alike.

use qunfa_core::message::{Message, MsgKind};
use serde_json::{Map, Value, json};

use qunfa_service::send::TARGET_OS;

/// `fromclienttype` of every message qunfa stores: 32, NIM's server API (REST).
const FROM_REST: u8 = 32;

/// Which listing a message is shown in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// `querySessionMsg`: NIM's field names.
    Session,
    /// What one account received: `queryUserMsgs` and the gateway's `msg` frames.
    User,
    /// `queryMassMsgs`: a targeted send as its sender sees it.
    Mass,
    /// `queryTeamMsg`: NIM's field names, no `to`.
    Team,
}

/// Stored JSON text as an object when it is one; anything else (a broadcast's plain text)
/// as the string.
fn object_or_text(raw: &str) -> Value {
    match serde_json::from_str::<Value>(raw) {
        Ok(v @ Value::Object(_)) => v,
        _ => Value::String(raw.to_owned()),
    }
}

/// One message as `view` shows it.
pub fn message(m: &Message, view: View) -> Value {
    let mut o = Map::new();
    o.insert("msgid".into(), json!(m.msgid));
    o.insert("from".into(), json!(m.from));
    o.insert("type".into(), json!(m.msg_type));
    match m.kind {
        // A broadcast's body is plain text, even when it looks like JSON.
        MsgKind::Broadcast => {
            o.insert("body".into(), json!(m.body));
        }
        // A team notification's `{"id","data"}` is its attach; it has no body.
        MsgKind::Team if m.msg_type == 5 => {
            o.insert("attach".into(), object_or_text(&m.body));
        }
        MsgKind::Notify => {
            o.insert("attach".into(), json!(m.body));
        }
        _ => {
            o.insert("body".into(), object_or_text(&m.body));
        }
    }
    if let Some(tid) = m.tid
        && view == View::User
    {
        o.insert("tid".into(), json!(tid));
    }
    if let Some(ext) = &m.ext {
        o.insert("ext".into(), json!(ext));
    }
    match view {
        View::Session => {
            o.insert("to".into(), json!(m.to));
            o.insert("sendtime".into(), json!(m.timetag));
            if let Some(c) = &m.msgidclient {
                o.insert("msgidclient".into(), json!(c));
            }
            o.insert("fromclienttype".into(), json!(FROM_REST));
        }
        View::User => {
            o.insert("kind".into(), json!(m.kind.name()));
            o.insert("sendtime".into(), json!(m.timetag));
            if let Some(to) = &m.to {
                o.insert("to".into(), json!(to));
            }
            if let Some(c) = &m.msgidclient {
                o.insert("msgidclient".into(), json!(c));
            }
            if m.mark_read {
                o.insert("markRead".into(), json!(true));
            }
            if let (MsgKind::Recall, Some(r)) = (m.kind, m.ref_msgid) {
                o.insert("recallMsgid".into(), json!(r));
            }
        }
        View::Team => {
            o.insert("sendtime".into(), json!(m.timetag));
            if let Some(c) = &m.msgidclient {
                o.insert("msgidclient".into(), json!(c));
            }
            o.insert("fromclienttype".into(), json!(FROM_REST));
        }
        View::Mass => {
            let selection = m.selection.as_deref().map_or(Value::Null, object_or_text);
            o.insert("timetag".into(), json!(m.timetag));
            o.insert("recipients".into(), json!(m.recipients));
            o.insert("selection".into(), selection);
            o.insert("markRead".into(), json!(m.mark_read));
            o.insert("antispam".into(), json!(m.antispam));
            o.insert("recalled".into(), json!(m.recalled_ms.is_some()));
        }
    }
    Value::Object(o)
}

/// A broadcast as NIM's broadcast endpoints show it.
pub fn broadcast(m: &Message) -> Value {
    let target_os: Value = m
        .extra
        .as_deref()
        .and_then(|e| serde_json::from_str::<Value>(e).ok())
        .and_then(|e| e.get("targetOs").cloned())
        .unwrap_or_else(|| json!(TARGET_OS));
    json!({
        "broadcastId": m.msgid,
        "from": m.from,
        "body": m.body,
        "targetOs": target_os,
        "isOffline": m.offline,
        "createTime": m.timetag,
        "expireTime": m.expire_ms,
    })
}
