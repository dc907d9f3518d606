//! `history/*`: NIM's session and broadcast history, and qunfa's per-account and mass-send
//! listings.

use std::sync::Arc;

use axum::extract::State;
use qunfa_core::ApiError;
use qunfa_core::ids::MsgId;
use qunfa_core::message::{self, BroadcastFilter, Message};
use qunfa_core::store::SessionQuery;
use serde_json::{Value, json};

use super::{Answer, Nim, ok};
use crate::state::AppState;
use crate::views::{self, View};

/// Most messages one history call answers.
pub const MAX_LIMIT: usize = 100;

/// `{"code":200,"size":N,"msgs":[…]}` plus `more`.
fn listing(msgs: &[Message], view: View, more: Value) -> Answer {
    let list: Vec<Value> = msgs.iter().map(|m| views::message(m, view)).collect();
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
    let begin_ms = params.required_int("begintime")?;
    let end_ms = params.required_int("endtime")?;
    if begin_ms >= end_ms {
        return Err(ApiError::param("bad time").into());
    }
    let limit = params.limit(None, MAX_LIMIT)?;
    let ascending = params.switch("reverse", &["1", "2"], "1")?;
    let types = params
        .get("type")
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| message::parse_type(Some(t)))
        .collect::<Result<Vec<u16>, ApiError>>()?;
    let q = SessionQuery {
        a: from,
        b: to,
        begin_ms,
        end_ms,
        limit,
        ascending,
        types,
        exclude_msgid: params.int("excludeMsgid")?.map(MsgId),
    };
    let msgs = s.services.session_msgs(app.id, q).await?;
    listing(&msgs, View::Session, json!({}))
}

/// `history/queryBroadcastMsg`: broadcasts from `broadcastId` down (0: the newest).
pub async fn query_broadcast_msg(
    State(s): State<Arc<AppState>>,
    Nim { app, params }: Nim,
) -> Answer {
    let start = Some(params.non_negative("broadcastId")?)
        .filter(|b| *b > 0)
        .map(MsgId);
    let limit = params.limit(Some(MAX_LIMIT), MAX_LIMIT)?;
    let filter = match params.one_of("type", &["1", "2", "3"])? {
        None | Some("1") => BroadcastFilter::All,
        Some("2") => BroadcastFilter::Offline,
        _ => BroadcastFilter::OnlineOnly,
    };
    let list = s.services.broadcasts(app.id, start, limit, filter).await?;
    let msgs: Vec<Value> = list.iter().map(views::broadcast).collect();
    ok(json!({"size": msgs.len(), "msgs": msgs}))
}

/// `history/queryBroadcastMsgById`: one broadcast that was not deleted.
pub async fn query_broadcast_msg_by_id(
    State(s): State<Arc<AppState>>,
    Nim { app, params }: Nim,
) -> Answer {
    let id = params.msgid("broadcastId")?;
    let m = s.services.broadcast_by_id(app.id, id).await?;
    ok(json!({"msg": views::broadcast(&m)}))
}

/// `history/delBroadcastMsgById`: deletes a broadcast; it no longer lists or syncs.
pub async fn del_broadcast_msg_by_id(
    State(s): State<Arc<AppState>>,
    Nim { app, params }: Nim,
) -> Answer {
    let id = params.msgid("broadcastId")?;
    s.services.delete_broadcast(app.id, id).await?;
    ok(json!({}))
}

/// `history/queryUserMsgs` (qunfa): what `accid` received after msgid `cursor`, in msgid
/// order: point-to-point, targeted and offline broadcast messages, and recall entries.
pub async fn query_user_msgs(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let accid = params.accid("accid")?;
    let cursor = MsgId(params.non_negative("cursor")?);
    let limit = params.limit(Some(MAX_LIMIT), MAX_LIMIT)?;
    let msgs = s.services.user_msgs(app.id, &accid, cursor, limit).await?;
    let next = msgs.last().map_or(cursor, |m| m.msgid);
    listing(&msgs, View::User, json!({"cursor": next}))
}

/// `history/queryMassMsgs` (qunfa): targeted sends, newest first, below msgid `cursor`.
pub async fn query_mass_msgs(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let before = Some(params.non_negative("cursor")?)
        .filter(|c| *c > 0)
        .map(MsgId);
    let limit = params.limit(Some(20), MAX_LIMIT)?;
    let msgs = s.services.mass_msgs(app.id, before, limit).await?;
    let next = msgs.iter().map(|m| m.msgid.0).min().unwrap_or(0);
    listing(&msgs, View::Mass, json!({"cursor": next}))
}
