//! `msg/*`: sending (point-to-point, batch, targeted, broadcast), audience preview, recall.

use std::sync::Arc;

use axum::extract::State;
use qunfa_core::account::{Accid, NewAccount, Profile, hash_token};
use qunfa_core::audience::{self, Selection};
use qunfa_core::dict::check_id;
use qunfa_core::message::{self, MsgKind, NewMessage, Sent};
use qunfa_core::store::OnCommit;
use qunfa_core::{ApiError, Code, StoreError};
use roaring::RoaringBitmap;
use serde_json::{Map, Value, json};

use super::{Answer, Nim, Params, ok};
use crate::hub::Target;
use crate::index::AppIndex;
use crate::state::AppState;

/// The commit hook that hands committed messages to the hub for live delivery. The store
/// runs it in commit order, so clients see msgids in increasing order. Intercepted messages
/// and repeats of an earlier send (same `msgidclient`) never go out.
fn live(s: &AppState, app: i64, msgs: Vec<(NewMessage, Target)>) -> OnCommit {
    let hub = s.hub.clone();
    Box::new(move |sent: &[Sent]| {
        for ((m, target), x) in msgs.into_iter().zip(sent) {
            if !m.antispam && !x.duplicate {
                hub.publish_message(app, target, m.stored(x));
            }
        }
    })
}

/// Most recipients of one `sendBatchMsg` (100 with `returnMsgid`).
pub const MAX_BATCH: usize = 500;
pub const MAX_BATCH_WITH_MSGIDS: usize = 100;
/// Most accounts one targeted send may list explicitly.
pub const MAX_EXPLICIT: usize = 100_000;
/// Explicit lists up to this size are kept in full with a mass message's selection.
const KEEP_EXPLICIT: usize = 500;
pub const MAX_BROADCAST_BODY: usize = 4096;
const TARGET_OS: [&str; 5] = ["ios", "aos", "pc", "web", "mac"];

/// A message's content parameters, checked.
struct Content {
    msg_type: u16,
    body: Value,
    ext: Option<String>,
    extra: Option<String>,
}

/// Reads `type`, `body`, `ext` and NIM's optional send parameters.
fn content(params: &Params, max_body: usize) -> Result<Content, ApiError> {
    let msg_type = message::parse_type(params.get("type"))?;
    let body = Value::Object(message::check_body(msg_type, params.get("body"), max_body)?);
    let ext = message::check_ext(params.get("ext"))?;
    Ok(Content {
        msg_type,
        body,
        ext,
        extra: extra(params)?,
    })
}

/// A string parameter under either of NIM's spellings (`pushcontent` / `pushContent`).
fn either<'a>(params: &'a Params, a: &str, b: &str) -> Option<(&'static str, &'a str)> {
    let name: &'static str = match a {
        "pushcontent" => "pushcontent",
        "forcepushlist" => "forcepushlist",
        "forcepushcontent" => "forcepushcontent",
        _ => "forcepushall",
    };
    params.get(a).or_else(|| params.get(b)).map(|v| (name, v))
}

fn json_param(
    params: &Params,
    name: &str,
    max: usize,
    want: &str,
) -> Result<Option<Value>, ApiError> {
    let Some(raw) = params.get(name).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if raw.chars().count() > max {
        return Err(ApiError::too_long(name, max));
    }
    let v: Value =
        serde_json::from_str(raw).map_err(|_| ApiError::param(format!("{name} must be {want}")))?;
    let fits = match want {
        "a JSON object" => v.is_object(),
        "a JSON array" => v.is_array(),
        _ => true,
    };
    if !fits {
        return Err(ApiError::param(format!("{name} must be {want}")));
    }
    Ok(Some(v))
}

/// NIM's other send parameters, checked and kept (push is not sent, but nothing is lost).
fn extra(params: &Params) -> Result<Option<String>, ApiError> {
    let mut out = Map::new();
    if let Some(v) = json_param(params, "option", 1024, "a JSON object")? {
        out.insert("option".into(), v);
    }
    if let Some(v) = json_param(params, "payload", 2048, "JSON")? {
        out.insert("payload".into(), v);
    }
    if let Some(v) = json_param(params, "antispamCustom", 5000, "a JSON object")? {
        out.insert("antispamCustom".into(), v);
    }
    for name in ["yidunAntiCheating", "yidunAntiSpamExt"] {
        if let Some(v) = json_param(params, name, 1024, "JSON")? {
            out.insert(name.into(), v);
        }
    }
    for (a, b, max) in [
        ("pushcontent", "pushContent", 500),
        ("forcepushcontent", "forcePushContent", 500),
    ] {
        if let Some((name, v)) = either(params, a, b) {
            if v.chars().count() > max {
                return Err(ApiError::too_long(name, max));
            }
            out.insert(name.into(), json!(v));
        }
    }
    if let Some((name, raw)) =
        either(params, "forcepushlist", "forcePushList").filter(|(_, v)| !v.is_empty())
    {
        let list: Vec<String> = serde_json::from_str(raw)
            .map_err(|_| ApiError::param(format!("{name} must be a JSON array of accids")))?;
        out.insert(name.into(), json!(list));
    }
    if let Some((name, _)) = either(params, "forcepushall", "forcePushAll") {
        let key = if params.get("forcepushall").is_some() {
            "forcepushall"
        } else {
            "forcePushAll"
        };
        out.insert(name.into(), json!(params.bool(key, false)?));
    }
    for (name, max) in [("msgDesc", 500), ("bid", 128), ("env", 128)] {
        if let Some(v) = params.opt_max(name, max)?.filter(|v| !v.is_empty()) {
            out.insert(name.into(), json!(v));
        }
    }
    for name in ["antispam", "checkFriend", "async"] {
        if params.get(name).is_some() {
            out.insert(name.into(), json!(params.bool(name, false)?));
        }
    }
    for (name, allowed) in [
        ("useYidun", &["0"][..]),
        ("msgSenderNoSense", &["0", "1"]),
        ("msgReceiverNoSense", &["0", "1"]),
    ] {
        if let Some(v) = params.get(name).filter(|v| !v.is_empty()) {
            if !allowed.contains(&v) {
                return Err(ApiError::param(format!(
                    "{name} must be {}: {v:?}",
                    allowed.join(" or ")
                )));
            }
            out.insert(name.into(), json!(v.parse::<u8>().unwrap_or(0)));
        }
    }
    if let Some(v) = params.get("subType").filter(|v| !v.is_empty()) {
        let n: i64 =
            v.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                ApiError::param(format!("subType must be a positive integer: {v:?}"))
            })?;
        out.insert("subType".into(), json!(n));
    }
    Ok(if out.is_empty() {
        None
    } else {
        Some(Value::Object(out).to_string())
    })
}

fn mark_read(params: &Params) -> Result<bool, ApiError> {
    match params.get("markRead").map(str::trim) {
        None | Some("") | Some("0") => Ok(false),
        Some("1") => Ok(true),
        Some(v) => Err(ApiError::param(format!("markRead must be 0 or 1: {v:?}"))),
    }
}

/// An account that must exist: its accid and ordinal.
fn registered(ix: &AppIndex, params: &Params, name: &str) -> Result<(Accid, u32), ApiError> {
    let accid = params.accid(name)?;
    let ordinal = ix
        .read()
        .ordinal_of(accid.as_str())
        .ok_or_else(|| ApiError::param(format!("{accid} not register")))?;
    Ok((accid, ordinal))
}

async fn filtered(
    s: &AppState,
    app: i64,
    body: &Value,
    ext: Option<&str>,
) -> Result<bool, ApiError> {
    Ok(s.antispam
        .hits(app, &message::shown_text(body, ext))
        .await?)
}

fn sent_data(sent: &Sent) -> Value {
    json!({"msgid": sent.msgid, "timetag": sent.timetag, "antispam": sent.antispam})
}

/// Stores one message; once committed, it goes live to `target`.
async fn store_one(
    s: &AppState,
    app: i64,
    m: NewMessage,
    target: Target,
) -> Result<Sent, ApiError> {
    let now = s.now_ms();
    let since = now - s.config.messages.dedupe_window_secs * 1000;
    let hook = live(s, app, vec![(m.clone(), target)]);
    let mut sent = s
        .store
        .store_messages(app, vec![m], now, since, hook)
        .await?;
    sent.pop()
        .ok_or_else(|| ApiError::internal("store answered no result for one message"))
}

/// `msg/sendMsg`: one point-to-point message (`ope=0`).
pub async fn send_msg(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let ix = s.indexes.get(app.id).await?;
    let (from, _) = registered(&ix, &params, "from")?;
    match params.get("ope").map(str::trim) {
        None | Some("") => return Err(ApiError::missing("ope").into()),
        Some("0") => {}
        Some("1") => return Err(ApiError::param("ope: team messages are not supported yet").into()),
        Some(v) => return Err(ApiError::param(format!("ope must be 0 or 1: {v:?}")).into()),
    }
    let (to, to_ordinal) = registered(&ix, &params, "to")?;
    let c = content(&params, s.config.messages.max_body_chars)?;
    let mut m = NewMessage::new(MsgKind::P2p, from, c.msg_type, c.body.to_string());
    m.antispam = filtered(&s, app.id, &c.body, c.ext.as_deref()).await?;
    m.to = Some(to);
    m.to_ordinal = Some(to_ordinal);
    m.ext = c.ext;
    m.extra = c.extra;
    m.mark_read = mark_read(&params)?;
    // qunfa: the app's own id for the message, for `markReadMsg`'s `msgidClient`.
    m.msgidclient = params
        .opt_max("msgidclient", 128)?
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    let sent = store_one(&s, app.id, m, Target::One(to_ordinal)).await?;
    ok(json!({"data": sent_data(&sent)}))
}

/// `msg/sendBatchMsg`: one point-to-point message to each of up to 500 accounts.
pub async fn send_batch_msg(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let ix = s.indexes.get(app.id).await?;
    let (from, _) = registered(&ix, &params, "fromAccid")?;
    let return_msgid = params.bool("returnMsgid", false)?;
    let max = if return_msgid {
        MAX_BATCH_WITH_MSGIDS
    } else {
        MAX_BATCH
    };
    let raw = params.string_array("toAccids", max)?;
    let c = content(&params, s.config.messages.max_body_chars)?;
    let antispam = filtered(&s, app.id, &c.body, c.ext.as_deref()).await?;
    let body = c.body.to_string();
    let mut unregister = Vec::new();
    let mut msgs = Vec::new();
    let mut seen = std::collections::HashSet::new();
    {
        let r = ix.read();
        for a in &raw {
            let accid = Accid::parse(a, "toAccids")?;
            if !seen.insert(accid.clone()) {
                continue;
            }
            match r.ordinal_of(accid.as_str()) {
                None => unregister.push(accid.to_string()),
                Some(o) => {
                    let mut m =
                        NewMessage::new(MsgKind::P2p, from.clone(), c.msg_type, body.clone());
                    m.to = Some(accid);
                    m.to_ordinal = Some(o);
                    m.ext = c.ext.clone();
                    m.extra = c.extra.clone();
                    m.antispam = antispam;
                    msgs.push(m);
                }
            }
        }
    }
    let now = s.now_ms();
    let recipients: Vec<String> = msgs
        .iter()
        .filter_map(|m| m.to.as_ref().map(|a| a.to_string()))
        .collect();
    let sent = if msgs.is_empty() {
        Vec::new()
    } else {
        let targets = msgs
            .iter()
            .filter_map(|m| Some((m.clone(), Target::One(m.to_ordinal?))))
            .collect();
        let hook = live(&s, app.id, targets);
        s.store.store_messages(app.id, msgs, now, now, hook).await?
    };
    let mut answer = Map::new();
    if !unregister.is_empty() {
        answer.insert("unregister".into(), json!(unregister));
    }
    answer.insert(
        "timetag".into(),
        json!(sent.first().map_or(now, |x| x.timetag)),
    );
    if return_msgid {
        let ids: Map<String, Value> = recipients
            .into_iter()
            .zip(&sent)
            .map(|(a, x)| (a, json!(x.msgid)))
            .collect();
        answer.insert("msgids".into(), Value::Object(ids));
    }
    ok(Value::Object(answer))
}

/// A comma-separated list of dictionary ids (`areaid=37,44`).
fn id_list(params: &Params, name: &str) -> Result<Vec<String>, ApiError> {
    let mut out = Vec::new();
    for id in params
        .get(name)
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        check_id(name, id)?;
        if !out.iter().any(|x| x == id) {
            out.push(id.to_owned());
        }
    }
    Ok(out)
}

/// The explicit recipients: `two` (the original request's form: accids, or objects with
/// `appregisterid`) and/or `toAccids` (a JSON array of accids). `None` when neither is given.
fn explicit(params: &Params) -> Result<Option<Vec<Accid>>, ApiError> {
    let mut list: Option<Vec<Accid>> = None;
    if let Some(raw) = params.get("two").filter(|v| !v.trim().is_empty()) {
        let bad = || {
            ApiError::param("two must be a JSON array of accids or of objects with appregisterid")
        };
        let items: Vec<Value> = serde_json::from_str(raw).map_err(|_| bad())?;
        let l = list.get_or_insert_with(Vec::new);
        for item in items {
            let id = match &item {
                Value::String(s) => s.as_str(),
                Value::Object(o) => o
                    .get("appregisterid")
                    .and_then(Value::as_str)
                    .ok_or_else(bad)?,
                _ => return Err(bad()),
            };
            l.push(Accid::parse(id, "two")?);
        }
    }
    if params.get("toAccids").is_some_and(|v| !v.trim().is_empty()) {
        let l = list.get_or_insert_with(Vec::new);
        for a in params.string_array("toAccids", MAX_EXPLICIT)? {
            l.push(Accid::parse(&a, "toAccids")?);
        }
    }
    if let Some(l) = &mut list {
        if l.len() > MAX_EXPLICIT {
            return Err(ApiError::param(format!(
                "two and toAccids list more than {MAX_EXPLICIT} accounts"
            )));
        }
        l.sort();
        l.dedup();
    }
    Ok(list)
}

fn selection(params: &Params) -> Result<Selection, ApiError> {
    Ok(Selection {
        accids: explicit(params)?,
        areas: id_list(params, "areaid")?,
        types: id_list(params, "enterptypeid")?,
    })
}

fn selection_json(sel: &Selection) -> Value {
    let mut o = Map::new();
    o.insert("areaid".into(), json!(sel.areas));
    o.insert("enterptypeid".into(), json!(sel.types));
    match &sel.accids {
        None => {}
        Some(l) if l.len() <= KEEP_EXPLICIT => {
            o.insert("accids".into(), json!(l));
        }
        Some(l) => {
            o.insert("accidCount".into(), json!(l.len()));
        }
    }
    Value::Object(o)
}

/// The sender of a targeted send: `from`, or the app's system account (created on first use).
async fn sender(
    s: &AppState,
    app: i64,
    ix: &AppIndex,
    params: &Params,
) -> Result<(Accid, u32), ApiError> {
    if params.get("from").is_some_and(|f| !f.is_empty()) {
        return registered(ix, params, "from");
    }
    let accid = Accid::parse(&s.config.messages.system_accid, "messages.system_accid")
        .map_err(|e| ApiError::internal(format!("bad messages.system_accid: {}", e.desc)))?;
    if let Some(o) = ix.read().ordinal_of(accid.as_str()) {
        return Ok((accid, o));
    }
    let _gate = ix.gate().await;
    if let Some(o) = ix.read().ordinal_of(accid.as_str()) {
        return Ok((accid, o));
    }
    let token = qunfa_core::random_hex(16);
    let new = NewAccount {
        token_hash: hash_token(&accid, &token),
        accid: accid.clone(),
        profile: Profile::default(),
    };
    let result = s.store.create_accounts(app, vec![new]).await?.pop();
    let ordinal = match result {
        Some(Ok(o)) => o,
        Some(Err(StoreError::AlreadyRegistered)) => s
            .store
            .get_accounts(app, std::slice::from_ref(&accid))
            .await?
            .first()
            .map(|a| a.ordinal)
            .ok_or_else(|| ApiError::internal("system account vanished"))?,
        Some(Err(e)) => return Err(e.into()),
        None => {
            return Err(ApiError::internal(
                "store answered no result for the system account",
            ));
        }
    };
    let mut w = ix.write();
    w.upsert_account(ordinal, accid.as_str(), None, None, false);
    w.set_system(ordinal);
    Ok((accid, ordinal))
}

/// `msg/sendMsgToAll`: one message to every account of the app, or to those of some areas
/// (with their sub-areas) and enterprise types, or to an explicit list. Stored once, with its
/// audience fixed at send time.
pub async fn send_msg_to_all(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let ix = s.indexes.get(app.id).await?;
    let sel = selection(&params)?;
    let c = content(&params, s.config.messages.max_body_chars)?;
    let mark_read = mark_read(&params)?;
    let msgidclient = params
        .opt_max("msgidclient", 128)?
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    let (from, from_ordinal) = sender(&s, app.id, &ix, &params).await?;
    let audience: RoaringBitmap = ix.read().select(&sel, Some(from_ordinal))?;
    let mut m = NewMessage::new(MsgKind::Mass, from, c.msg_type, c.body.to_string());
    m.antispam = filtered(&s, app.id, &c.body, c.ext.as_deref()).await?;
    m.recipients = audience.len();
    m.audience = Some(audience::encode(&audience));
    m.selection = Some(selection_json(&sel).to_string());
    m.ext = c.ext;
    m.extra = c.extra;
    m.mark_read = mark_read;
    m.msgidclient = msgidclient;
    let audience = Arc::new(audience);
    let sent = store_one(&s, app.id, m, Target::Audience(audience.clone())).await?;
    if !sent.duplicate {
        s.audiences.put(app.id, sent.msgid, audience);
    }
    let mut data = sent_data(&sent);
    data["recipients"] = json!(sent.recipients);
    ok(json!({"data": data}))
}

/// `msg/previewAudience`: how many accounts a `sendMsgToAll` selection reaches, sending nothing.
pub async fn preview_audience(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let ix = s.indexes.get(app.id).await?;
    let sel = selection(&params)?;
    let exclude = match params.get("from").filter(|f| !f.is_empty()) {
        Some(_) => Some(registered(&ix, &params, "from")?.1),
        None => None,
    };
    let n = ix.read().select(&sel, exclude)?.len();
    ok(json!({"data": {"recipients": n}}))
}

pub(crate) fn broadcast_json(m: &qunfa_core::message::Message) -> Value {
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

/// `msg/broadcastMsg`: a plain-text broadcast to every account of the app.
pub async fn broadcast_msg(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let ix = s.indexes.get(app.id).await?;
    let body = params.required("body")?;
    if body.chars().count() > MAX_BROADCAST_BODY {
        return Err(ApiError::too_long("body", MAX_BROADCAST_BODY).into());
    }
    let is_offline = params.bool("isOffline", false)?;
    let ttl_hours: i64 = match params.get("ttl").map(str::trim).filter(|v| !v.is_empty()) {
        None => 168,
        Some(v) => v
            .parse()
            .ok()
            .filter(|h| (1..=8760).contains(h))
            .ok_or_else(|| ApiError::param(format!("ttl must be 1 to 8760 hours: {v:?}")))?,
    };
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
    let (from, from_ordinal) = sender(&s, app.id, &ix, &params).await?;
    let audience = ix
        .read()
        .select(&Selection::default(), Some(from_ordinal))?;
    let now = s.now_ms();
    let mut m = NewMessage::new(MsgKind::Broadcast, from, 100, body.to_owned());
    m.antispam = filtered(&s, app.id, &json!(body), None).await?;
    m.recipients = audience.len();
    m.audience = Some(audience::encode(&audience));
    m.offline = is_offline;
    m.expire_ms = Some(now + ttl_hours * 3_600_000);
    m.extra = Some(json!({"targetOs": target_os}).to_string());
    let audience = Arc::new(audience);
    let sent = store_one(&s, app.id, m, Target::Audience(audience.clone())).await?;
    s.audiences.put(app.id, sent.msgid, audience);
    let stored = s
        .store
        .message(app.id, sent.msgid)
        .await?
        .ok_or_else(|| ApiError::internal("broadcast vanished"))?;
    ok(json!({"msg": broadcast_json(&stored)}))
}

fn int_param(params: &Params, name: &str) -> Result<i64, ApiError> {
    let v = params.required(name)?.trim();
    v.parse()
        .map_err(|_| ApiError::param(format!("{name} must be an integer: {v:?}")))
}

fn ignore_time(params: &Params) -> Result<bool, ApiError> {
    match params.get("ignoreTime").map(str::trim) {
        None | Some("") => Ok(false),
        Some("1") => Ok(true),
        Some(v) => Err(ApiError::param(format!("ignoreTime must be 1: {v:?}"))),
    }
}

/// Refuses a recall of an intercepted message, or one past the window.
fn check_recallable(
    s: &AppState,
    m: &qunfa_core::message::Message,
    ignore: bool,
    param: &str,
) -> Result<(), ApiError> {
    if m.antispam {
        return Err(ApiError::param(format!(
            "{param}: an intercepted message cannot be recalled"
        )));
    }
    let window = s.config.messages.recall_window_secs;
    if !ignore && s.now_ms() - m.timetag > window * 1000 {
        return Err(ApiError::new(
            Code::RecallExpired,
            format!("{param}: past the recall window of {window} s"),
        ));
    }
    Ok(())
}

fn recall_body(params: &Params) -> Result<String, ApiError> {
    let msg = params.opt_max("msg", 128)?.unwrap_or("");
    Ok(json!({ "msg": msg }).to_string())
}

fn recall_extra(params: &Params) -> Result<Option<String>, ApiError> {
    let mut out = Map::new();
    if let Some(v) = params.opt_max("attach", 5000)?.filter(|v| !v.is_empty()) {
        out.insert("attach".into(), json!(v));
    }
    if let Some(v) = params
        .opt_max("pushcontent", 500)?
        .filter(|v| !v.is_empty())
    {
        out.insert("pushcontent".into(), json!(v));
    }
    if let Some(v) = json_param(params, "payload", 2048, "JSON")? {
        out.insert("payload".into(), v);
    }
    if let Some(v) = params.opt_max("env", 128)?.filter(|v| !v.is_empty()) {
        out.insert("env".into(), json!(v));
    }
    Ok(if out.is_empty() {
        None
    } else {
        Some(Value::Object(out).to_string())
    })
}

/// `msg/recall`: NIM's two-way recall of a point-to-point message (`type=7`). An unknown
/// message answers 200, as NIM does.
pub async fn recall(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let msgid = int_param(&params, "deleteMsgid")?;
    int_param(&params, "timetag")?;
    match params.get("type").map(str::trim) {
        None | Some("") => return Err(ApiError::missing("type").into()),
        Some("7") => {}
        Some("8") => {
            return Err(ApiError::param("type: team messages are not supported yet").into());
        }
        Some(v) => return Err(ApiError::param(format!("type must be 7 or 8: {v:?}")).into()),
    }
    let from = params.accid("from")?;
    let to = params.accid("to")?;
    let ignore = ignore_time(&params)?;
    let body = recall_body(&params)?;
    let extra = recall_extra(&params)?;
    let Some(m) = s.store.message(app.id, msgid).await? else {
        return ok(json!({}));
    };
    let same =
        m.kind == MsgKind::P2p && m.from == from.as_str() && m.to.as_deref() == Some(to.as_str());
    if !same || m.recalled_ms.is_some() {
        return ok(json!({}));
    }
    check_recallable(&s, &m, ignore, "deleteMsgid")?;
    let ix = s.indexes.get(app.id).await?;
    let mut t = NewMessage::new(MsgKind::Recall, from, 7, body);
    t.to_ordinal = ix.read().ordinal_of(to.as_str());
    t.to = Some(to);
    t.ref_msgid = Some(msgid);
    t.extra = extra;
    let targets = t
        .to_ordinal
        .map(|o| (t.clone(), Target::One(o)))
        .into_iter()
        .collect();
    let hook = live(&s, app.id, targets);
    s.store
        .recall_message(app.id, msgid, t, s.now_ms(), hook)
        .await?;
    ok(json!({}))
}

/// `msg/recallMassMsg`: withdraws a targeted or broadcast message from everyone it reached.
pub async fn recall_mass_msg(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let msgid = int_param(&params, "msgid")?;
    let ignore = ignore_time(&params)?;
    let body = recall_body(&params)?;
    let extra = recall_extra(&params)?;
    let m = s.store.message(app.id, msgid).await?;
    let Some(m) = m.filter(|m| matches!(m.kind, MsgKind::Mass | MsgKind::Broadcast) && !m.deleted)
    else {
        return Err(ApiError::new(Code::NotFound, format!("msgid {msgid} not found")).into());
    };
    if m.recalled_ms.is_some() {
        return ok(json!({}));
    }
    check_recallable(&s, &m, ignore, "msgid")?;
    let from = Accid::parse(&m.from, "from").map_err(|e| ApiError::internal(e.desc))?;
    let mut t = NewMessage::new(MsgKind::Recall, from, 8, body);
    t.ref_msgid = Some(msgid);
    t.audience = s.store.message_audience(app.id, msgid).await?;
    t.recipients = m.recipients;
    t.extra = extra;
    let bits = s.audiences.get(s.store.as_ref(), app.id, msgid).await?;
    let targets = bits
        .map(|b| (t.clone(), Target::Audience(b)))
        .into_iter()
        .collect();
    let hook = live(&s, app.id, targets);
    s.store
        .recall_message(app.id, msgid, t, s.now_ms(), hook)
        .await?;
    ok(json!({}))
}
