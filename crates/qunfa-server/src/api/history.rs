//! `history/*`: NIM's session and broadcast history, and qunfa's per-account and mass-send
//! listings.

use std::sync::Arc;

use axum::extract::State;
use qunfa_core::message::{self, BroadcastFilter, Message, MsgKind};
use qunfa_core::store::SessionQuery;
use qunfa_core::{ApiError, Code};
use serde_json::{Map, Value, json};

use super::msg::broadcast_json;
use super::{Answer, Nim, Params, ok};
use crate::state::AppState;

/// Most messages one history call answers.
pub const MAX_LIMIT: usize = 100;
/// `fromclienttype` of every message qunfa stores: 32, NIM's server API (REST).
const FROM_REST: u8 = 32;

/// An optional integer (absent or empty: `None`).
fn int(params: &Params, name: &str) -> Result<Option<i64>, ApiError> {
    match params.get(name).map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| ApiError::param(format!("{name} must be an integer: {v:?}"))),
    }
}

fn required_int(params: &Params, name: &str) -> Result<i64, ApiError> {
    int(params, name)?.ok_or_else(|| ApiError::missing(name))
}

/// An optional integer ≥ 0 (absent or empty: 0).
fn non_negative(params: &Params, name: &str) -> Result<i64, ApiError> {
    match int(params, name) {
        Ok(Some(n)) if n >= 0 => Ok(n),
        Ok(None) => Ok(0),
        _ => Err(ApiError::param(format!(
            "{name} must be a non-negative integer: {:?}",
            params.get(name).unwrap_or("").trim()
        ))),
    }
}

/// `limit`, 1 to 100; `default` when absent (`None`: required).
fn limit(params: &Params, default: Option<usize>) -> Result<usize, ApiError> {
    match params.get("limit").map(str::trim) {
        None | Some("") => default.ok_or_else(|| ApiError::missing("limit")),
        Some(v) => v
            .parse()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| ApiError::param(format!("limit must be 1 to {MAX_LIMIT}: {v:?}"))),
    }
}

/// Stored JSON text as an object when it is one; anything else (a broadcast's plain text)
/// as the string.
fn object_or_text(raw: &str) -> Value {
    match serde_json::from_str::<Value>(raw) {
        Ok(v @ Value::Object(_)) => v,
        _ => Value::String(raw.to_owned()),
    }
}

/// Which listing a message is shown in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum View {
    /// `querySessionMsg`: NIM's field names.
    Session,
    /// `queryUserMsgs`: what one account received.
    User,
    /// `queryMassMsgs`: a targeted send as its sender sees it.
    Mass,
}

/// A message as the account that received it sees it (`queryUserMsgs`, and the gateway's
/// `msg` frames).
pub(crate) fn user_message_json(m: &Message) -> Value {
    message_json(m, View::User)
}

/// One message as a history answer shows it.
fn message_json(m: &Message, view: View) -> Value {
    let mut o = Map::new();
    o.insert("msgid".into(), json!(m.msgid));
    o.insert("from".into(), json!(m.from));
    o.insert("type".into(), json!(m.msg_type));
    let body = match m.kind {
        // A broadcast's body is plain text, even when it looks like JSON.
        MsgKind::Broadcast => json!(m.body),
        _ => object_or_text(&m.body),
    };
    o.insert("body".into(), body);
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

/// `{"code":200,"size":N,"msgs":[…]}` plus `more`.
fn listing(msgs: &[Message], view: View, more: Value) -> Answer {
    let list: Vec<Value> = msgs.iter().map(|m| message_json(m, view)).collect();
    let mut answer = json!({"size": list.len(), "msgs": list});
    if let (Some(a), Value::Object(more)) = (answer.as_object_mut(), more) {
        a.extend(more);
    }
    ok(answer)
}

/// `history/querySessionMsg`: point-to-point messages between `from` and `to`, both ways.
pub async fn query_session_msg(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let from = params.accid("from")?;
    let to = params.accid("to")?;
    let begin_ms = required_int(&params, "begintime")?;
    let end_ms = required_int(&params, "endtime")?;
    if begin_ms >= end_ms {
        return Err(ApiError::param("bad time").into());
    }
    let limit = limit(&params, None)?;
    let ascending = match params.get("reverse").map(str::trim) {
        None | Some("") | Some("2") => false,
        Some("1") => true,
        Some(v) => return Err(ApiError::param(format!("reverse must be 1 or 2: {v:?}")).into()),
    };
    let types = params
        .get("type")
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| message::parse_type(Some(t)))
        .collect::<Result<Vec<u16>, ApiError>>()?;
    let q = SessionQuery {
        a: from.to_string(),
        b: to.to_string(),
        begin_ms,
        end_ms,
        limit,
        ascending,
        types,
        exclude_msgid: int(&params, "excludeMsgid")?,
    };
    let msgs = s.store.session_messages(app.id, q).await?;
    listing(&msgs, View::Session, json!({}))
}

/// `history/queryBroadcastMsg`: broadcasts from `broadcastId` down (0: the newest).
pub async fn query_broadcast_msg(
    State(s): State<Arc<AppState>>,
    Nim { app, params }: Nim,
) -> Answer {
    let start = non_negative(&params, "broadcastId")?;
    let limit = limit(&params, Some(MAX_LIMIT))?;
    let filter = match params.get("type").map(str::trim) {
        None | Some("") | Some("1") => BroadcastFilter::All,
        Some("2") => BroadcastFilter::Offline,
        Some("3") => BroadcastFilter::OnlineOnly,
        Some(v) => return Err(ApiError::param(format!("type must be 1, 2 or 3: {v:?}")).into()),
    };
    let list = s.store.broadcasts(app.id, start, limit, filter).await?;
    let msgs: Vec<Value> = list.iter().map(broadcast_json).collect();
    ok(json!({"size": msgs.len(), "msgs": msgs}))
}

fn broadcast_not_found(id: i64) -> ApiError {
    ApiError::new(Code::NotFound, format!("broadcastId {id} not found"))
}

/// `history/queryBroadcastMsgById`: one broadcast that was not deleted.
pub async fn query_broadcast_msg_by_id(
    State(s): State<Arc<AppState>>,
    Nim { app, params }: Nim,
) -> Answer {
    let id = required_int(&params, "broadcastId")?;
    let m = s
        .store
        .message(app.id, id)
        .await?
        .filter(|m| m.kind == MsgKind::Broadcast && !m.deleted)
        .ok_or_else(|| broadcast_not_found(id))?;
    ok(json!({"msg": broadcast_json(&m)}))
}

/// `history/delBroadcastMsgById`: deletes a broadcast; it no longer lists or syncs.
pub async fn del_broadcast_msg_by_id(
    State(s): State<Arc<AppState>>,
    Nim { app, params }: Nim,
) -> Answer {
    let id = required_int(&params, "broadcastId")?;
    if !s.store.delete_broadcast(app.id, id).await? {
        return Err(broadcast_not_found(id).into());
    }
    ok(json!({}))
}

/// `history/queryUserMsgs` (qunfa): what `accid` received after msgid `cursor`, in msgid
/// order: point-to-point, targeted and offline broadcast messages, and recall entries.
pub async fn query_user_msgs(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let accid = params.accid("accid")?;
    let cursor = non_negative(&params, "cursor")?;
    let limit = limit(&params, Some(MAX_LIMIT))?;
    let ix = s.indexes.get(app.id).await?;
    let ordinal = ix.read().ordinal_of(accid.as_str());
    let ordinal = ordinal.ok_or_else(|| ApiError::param(format!("{accid} not register")))?;
    let msgs = s
        .store
        .user_messages(app.id, ordinal, cursor, limit, s.now_ms())
        .await?;
    let next = msgs.last().map_or(cursor, |m| m.msgid);
    listing(&msgs, View::User, json!({"cursor": next}))
}

/// `history/queryMassMsgs` (qunfa): targeted sends, newest first, below msgid `cursor`.
pub async fn query_mass_msgs(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let before = Some(non_negative(&params, "cursor")?).filter(|c| *c > 0);
    let limit = limit(&params, Some(20))?;
    let msgs = s.store.mass_messages(app.id, before, limit).await?;
    let next = msgs.iter().map(|m| m.msgid).min().unwrap_or(0);
    listing(&msgs, View::Mass, json!({"cursor": next}))
}
