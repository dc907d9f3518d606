//! Team messages in the `msg/*` and `history/*` groups: `sendMsg ope=1`, `recall type=8`,
//! `sendMsgToAll` with `tids` (called from `msg.rs`), and `sendAttachMsg`, `markReadTeamMsg`,
//! `queryTeamMsg`.

use std::sync::Arc;

use axum::extract::State;
use qunfa_core::ApiError;
use qunfa_core::account::Accid;
use qunfa_core::ids::{AppId, MsgId};
use qunfa_core::message;
use qunfa_core::team::Tid;
use qunfa_service::recall::P2pRecall;
use qunfa_service::send::TargetedSend;
use qunfa_service::teams::messages::{NotifySend, NotifyTo, TeamHistory, TeamRecall, TeamSend};
use serde_json::{Map, Value, json};

use super::history::MAX_LIMIT;
use super::msg_params::{MAX_FORCE_PUSH, content, json_param, mark_read, msgidclient};
use super::{Answer, Nim, Params, ok};
use crate::state::AppState;
use crate::views::{self, View};

/// Most teams one `sendMsgToAll` posts into.
pub const MAX_TIDS: usize = 100;
/// Most msgids one `markReadTeamMsg` marks.
pub const MAX_MARK: usize = 1000;
pub const MAX_NOTIFY_ATTACH: usize = 4096;

/// `msg/sendMsg` with `ope=1`: `to` is the tid.
pub async fn send_team(s: &AppState, app: AppId, params: &Params) -> Answer {
    let from = params.accid("from")?;
    let tid = Tid::parse(params.get("to").unwrap_or(""), "to")?;
    let req = TeamSend {
        from,
        tid,
        content: content(params, s.config.messages.max_body_chars)?,
        mark_read: mark_read(params)?,
        msgidclient: msgidclient(params)?,
    };
    let sent = s.services.send_team(app, req).await?;
    ok(json!({"data": {"msgid": sent.msgid, "timetag": sent.timetag, "antispam": sent.antispam}}))
}

/// `msg/recall` with `type=8`: `to` is the tid.
pub async fn recall_team(s: &AppState, app: AppId, params: &Params, p: P2pRecall) -> Answer {
    let tid = Tid::parse(params.get("to").unwrap_or(""), "to")?;
    let r = TeamRecall {
        msgid: p.msgid,
        from: p.from,
        tid,
        ignore_time: p.ignore_time,
        body: p.body,
        extra: p.extra,
    };
    s.services.recall_team(app, r).await?;
    ok(json!({}))
}

/// Whether `sendMsgToAll` selects users too (`areaid`, `enterptypeid`, `two`, `toAccids`).
pub fn selects_users(params: &Params) -> bool {
    ["areaid", "enterptypeid", "two", "toAccids"]
        .iter()
        .any(|p| params.get(p).is_some_and(|v| !v.trim().is_empty()))
}

/// `msg/sendMsgToAll` with `tids`: into each listed team, and to the user selection if given,
/// in one durable write. `data.teams` lists each team's msgid.
pub async fn send_to_all_with_teams(
    s: &AppState,
    app: AppId,
    params: &Params,
    req: TargetedSend,
) -> Answer {
    let tids = Tid::parse_list(params.required("tids")?, "tids", MAX_TIDS)?;
    let users = selects_users(params);
    let out = s
        .services
        .send_to_all_and_teams(app, req, tids, users)
        .await?;
    let teams: Vec<Value> = out
        .teams
        .iter()
        .map(|(tid, x)| json!({"tid": tid, "msgid": x.msgid}))
        .collect();
    let data = match &out.mass {
        Some(m) => json!({
            "msgid": m.msgid,
            "timetag": m.timetag,
            "antispam": m.antispam,
            "recipients": m.recipients,
            "teams": teams,
        }),
        None => json!({
            "teams": teams,
            "timetag": out.timetag,
            "antispam": out.antispam,
            "recipients": 0,
        }),
    };
    ok(json!({ "data": data }))
}

/// NIM's other `sendAttachMsg` parameters, checked and kept with the notification.
fn notify_extra(params: &Params) -> Result<Option<String>, ApiError> {
    let mut out = Map::new();
    for (name, max) in [
        ("pushcontent", 500),
        ("sound", 30),
        ("forcePushContent", 500),
        ("env", 128),
    ] {
        if let Some(v) = params.opt_max(name, max)?.filter(|v| !v.is_empty()) {
            out.insert(name.into(), json!(v));
        }
    }
    if let Some(v) = json_param(params, "payload", 2048, "JSON")? {
        out.insert("payload".into(), v);
    }
    if let Some(v) = json_param(params, "option", 1024, "a JSON object")? {
        out.insert("option".into(), v);
    }
    for name in ["isForcePush", "forcePushAll", "checkAccidAsyncEnable"] {
        if params.get(name).is_some() {
            out.insert(name.into(), json!(params.bool(name, false)?));
        }
    }
    if params.get("forcePushList").is_some_and(|v| !v.is_empty()) {
        let list = params.string_array("forcePushList", usize::MAX)?;
        if list.len() > MAX_FORCE_PUSH {
            return Err(ApiError::new(
                qunfa_core::Code::TooManyAt,
                format!("forcePushList has more than {MAX_FORCE_PUSH} accids"),
            ));
        }
        out.insert("forcePushList".into(), json!(list));
    }
    Ok((!out.is_empty()).then(|| Value::Object(out).to_string()))
}

/// `msg/sendAttachMsg`: a custom notification to an account (`msgtype=0`) or a team
/// (`msgtype=1`); `save=2` (default) keeps it for clients that are offline.
pub async fn send_attach_msg(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let from = params.accid("from")?;
    let team = params
        .one_of("msgtype", &["0", "1"])?
        .ok_or_else(|| ApiError::missing("msgtype"))?
        == "1";
    let to = if team {
        NotifyTo::Team(Tid::parse(params.get("to").unwrap_or(""), "to")?)
    } else {
        NotifyTo::Account(params.accid("to")?)
    };
    let attach = params.required("attach")?;
    if attach.chars().count() > MAX_NOTIFY_ATTACH {
        return Err(ApiError::too_long("attach", MAX_NOTIFY_ATTACH).into());
    }
    let offline = params.one_of("save", &["1", "2"])? != Some("1");
    let req = NotifySend {
        from,
        to,
        attach: attach.to_owned(),
        offline,
        extra: notify_extra(&params)?,
    };
    s.services.send_notify(app.id, req).await?;
    ok(json!({}))
}

/// `msgids`: a JSON array of msgids (numbers or numeric strings).
fn msgids(params: &Params) -> Result<Vec<MsgId>, ApiError> {
    let bad = || ApiError::param("msgids must be a JSON array of msgids");
    let values: Vec<Value> = serde_json::from_str(params.required("msgids")?).map_err(|_| bad())?;
    if values.len() > MAX_MARK {
        return Err(ApiError::param(format!(
            "msgids has more than {MAX_MARK} msgids"
        )));
    }
    values
        .into_iter()
        .map(|v| match v {
            Value::Number(n) => n.as_i64().map(MsgId).ok_or_else(bad),
            Value::String(s) => s.trim().parse().map(MsgId).map_err(|_| bad()),
            _ => Err(bad()),
        })
        .collect()
}

/// `msg/markReadTeamMsg`: `data.errMsgIds` lists what could not be marked.
pub async fn mark_read_team_msg(
    State(s): State<Arc<AppState>>,
    Nim { app, params }: Nim,
) -> Answer {
    let accid = params.accid("accid")?;
    let tid = Tid::parse(params.get("tid").unwrap_or(""), "tid")?;
    let ids = msgids(&params)?;
    let failed = s.services.mark_read_team(app.id, &accid, tid, &ids).await?;
    ok(json!({"data": {"errMsgIds": failed}}))
}

/// `history/queryTeamMsg`: the team's messages and notifications `accid` saw.
pub async fn query_team_msg(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let tid = Tid::parse(params.get("tid").unwrap_or(""), "tid")?;
    let accid: Accid = params.accid("accid")?;
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
        .map(|t| match t {
            "5" => Ok(5),
            _ => message::parse_type(Some(t)),
        })
        .collect::<Result<Vec<u16>, ApiError>>()?;
    params.bool("includeNoSenseMsg", false)?;
    let q = TeamHistory {
        tid,
        accid,
        begin_ms,
        end_ms,
        limit,
        ascending,
        types,
        check_valid: params.bool("checkTeamValid", true)?,
        exclude_msgid: params.int("excludeMsgid")?.map(MsgId),
    };
    let msgs = s.services.team_msgs(app.id, q).await?;
    let list: Vec<Value> = msgs.iter().map(|m| views::message(m, View::Team)).collect();
    ok(json!({"size": list.len(), "msgs": list}))
}
