//! `msg/*`: sending (point-to-point, batch, targeted, broadcast), audience preview, recall.
//! Read receipts and delivery statistics of the same group are in `stats.rs`, team messages in
//! `team_msg.rs`.

use std::sync::Arc;

use axum::extract::State;
use qunfa_core::ApiError;
use qunfa_core::account::Accid;
use qunfa_core::message::Sent;
use qunfa_service::recall::{MassRecall, P2pRecall};
use qunfa_service::send::{BatchSend, BroadcastSend, P2pSend, TARGET_OS, TargetedSend};
use serde_json::{Map, Value, json};

use super::msg_params::{self, content, mark_read, msgidclient, selection};
use super::{Answer, Nim, Params, ok, team_msg};
use crate::state::AppState;
use crate::views;

/// Most recipients of one `sendBatchMsg` (100 with `returnMsgid`).
pub const MAX_BATCH: usize = 500;
pub const MAX_BATCH_WITH_MSGIDS: usize = 100;
pub const MAX_BROADCAST_BODY: usize = 4096;

fn sent_data(sent: &Sent) -> Value {
    json!({"msgid": sent.msgid, "timetag": sent.timetag, "antispam": sent.antispam})
}

/// `from`, when given and not empty.
fn optional_from(params: &Params) -> Result<Option<Accid>, ApiError> {
    match params.get("from").filter(|f| !f.is_empty()) {
        Some(_) => params.accid("from").map(Some),
        None => Ok(None),
    }
}

/// `msg/sendMsg`: one point-to-point message (`ope=0`) or team message (`ope=1`, in
/// `team_msg.rs`).
pub async fn send_msg(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let from = params.accid("from")?;
    match params.get("ope").map(str::trim) {
        None | Some("") => return Err(ApiError::missing("ope").into()),
        Some("0") => {}
        Some("1") => return team_msg::send_team(&s, app.id, &params).await,
        Some(v) => return Err(ApiError::param(format!("ope must be 0 or 1: {v:?}")).into()),
    }
    let req = P2pSend {
        from,
        to: params.accid("to")?,
        content: content(&params, s.config.messages.max_body_chars)?,
        mark_read: mark_read(&params)?,
        msgidclient: msgidclient(&params)?,
    };
    let sent = s.services.send_p2p(app.id, req).await?;
    ok(json!({"data": sent_data(&sent)}))
}

/// `msg/sendBatchMsg`: one point-to-point message to each of up to 500 accounts.
pub async fn send_batch_msg(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let from = params.accid("fromAccid")?;
    let return_msgid = params.bool("returnMsgid", false)?;
    let max = if return_msgid {
        MAX_BATCH_WITH_MSGIDS
    } else {
        MAX_BATCH
    };
    let to = params
        .string_array("toAccids", max)?
        .iter()
        .map(|a| Accid::parse(a, "toAccids"))
        .collect::<Result<Vec<_>, _>>()?;
    let req = BatchSend {
        from,
        to,
        content: content(&params, s.config.messages.max_body_chars)?,
    };
    let out = s.services.send_batch(app.id, req).await?;
    let mut answer = Map::new();
    if !out.unregister.is_empty() {
        answer.insert("unregister".into(), json!(out.unregister));
    }
    answer.insert("timetag".into(), json!(out.timetag));
    if return_msgid {
        let ids: Map<String, Value> = out
            .sent
            .iter()
            .map(|(a, x)| (a.to_string(), json!(x.msgid)))
            .collect();
        answer.insert("msgids".into(), Value::Object(ids));
    }
    ok(Value::Object(answer))
}

/// `msg/sendMsgToAll`: one message to every account of the app, or to those of some areas
/// (with their sub-areas) and enterprise types, or to an explicit list.
pub async fn send_msg_to_all(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let selection = selection(&params)?;
    let content = content(&params, s.config.messages.max_body_chars)?;
    let req = TargetedSend {
        mark_read: mark_read(&params)?,
        msgidclient: msgidclient(&params)?,
        from: optional_from(&params)?,
        selection,
        content,
    };
    if params.get("tids").is_some_and(|t| !t.trim().is_empty()) {
        return team_msg::send_to_all_with_teams(&s, app.id, &params, req).await;
    }
    let sent = s.services.send_to_all(app.id, req).await?;
    let mut data = sent_data(&sent);
    data["recipients"] = json!(sent.recipients);
    ok(json!({"data": data}))
}

/// `msg/previewAudience`: how many accounts a `sendMsgToAll` selection reaches, sending nothing.
pub async fn preview_audience(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let selection = selection(&params)?;
    let from = optional_from(&params)?;
    let n = s
        .services
        .preview(app.id, &selection, from.as_ref())
        .await?;
    ok(json!({"data": {"recipients": n}}))
}

/// `msg/broadcastMsg`: a plain-text broadcast to every account of the app.
pub async fn broadcast_msg(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let body = params.required_text("body")?;
    if body.chars().count() > MAX_BROADCAST_BODY {
        return Err(ApiError::too_long("body", MAX_BROADCAST_BODY).into());
    }
    let offline = params.bool("isOffline", false)?;
    let ttl_hours = params.int_in("ttl", (1, 8760), " hours", 168)?;
    let target_os = match params.get("targetOs").filter(|v| !v.trim().is_empty()) {
        None => TARGET_OS.iter().map(|s| s.to_string()).collect(),
        Some(_) => {
            let list = params.string_array("targetOs", TARGET_OS.len())?;
            if let Some(bad) = list.iter().find(|o| !TARGET_OS.contains(&o.as_str())) {
                return Err(ApiError::param(format!(
                    "targetOs must hold ios, aos, pc, web or mac: {bad:?}"
                ))
                .into());
            }
            list
        }
    };
    let req = BroadcastSend {
        from: optional_from(&params)?,
        body: body.to_owned(),
        offline,
        ttl_hours,
        target_os,
    };
    let stored = s.services.broadcast(app.id, req).await?;
    ok(json!({"msg": views::broadcast(&stored)}))
}

/// `msg/recall`: NIM's two-way recall of a point-to-point message (`type=7`). An unknown
/// message answers 200, as NIM does.
pub async fn recall(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let msgid = params.msgid("deleteMsgid")?;
    params.required_int("timetag")?;
    let team = match params.get("type").map(str::trim) {
        None | Some("") => return Err(ApiError::missing("type").into()),
        Some("7") => false,
        Some("8") => true,
        Some(v) => return Err(ApiError::param(format!("type must be 7 or 8: {v:?}")).into()),
    };
    let from = params.accid("from")?;
    // The tid of a team recall is checked there.
    let to = if team {
        from.clone()
    } else {
        params.accid("to")?
    };
    let r = P2pRecall {
        msgid,
        from,
        to,
        ignore_time: msg_params::ignore_time(&params)?,
        body: msg_params::recall_body(&params)?,
        extra: msg_params::recall_extra(&params)?,
    };
    if team {
        return team_msg::recall_team(&s, app.id, &params, r).await;
    }
    s.services.recall_p2p(app.id, r).await?;
    ok(json!({}))
}

/// `msg/recallMassMsg`: withdraws a targeted or broadcast message from everyone it reached.
pub async fn recall_mass_msg(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let r = MassRecall {
        msgid: params.msgid("msgid")?,
        ignore_time: msg_params::ignore_time(&params)?,
        body: msg_params::recall_body(&params)?,
        extra: msg_params::recall_extra(&params)?,
    };
    s.services.recall_mass(app.id, r).await?;
    ok(json!({}))
}
