//! The `msg/*` parameters that several endpoints share, parsed from the wire into the service
//! layer's types: a message's content (with NIM's other send parameters), a targeted send's
//! selection, a recall's tombstone.

use qunfa_core::account::Accid;
use qunfa_core::audience::Selection;
use qunfa_core::message;
use qunfa_core::{ApiError, Code};
use qunfa_service::content::Content;
use qunfa_service::send::MAX_EXPLICIT;
use serde_json::{Map, Value, json};

use super::Params;

/// Most accounts one message may @ (`forcepushlist`): NIM's 811 past it.
pub const MAX_FORCE_PUSH: usize = 100;

/// `type`, `body`, `ext` and NIM's optional send parameters.
pub fn content(params: &Params, max_body: usize) -> Result<Content, ApiError> {
    let msg_type = message::parse_type(params.get("type"))?;
    let body = message::check_body(msg_type, params.get("body"), max_body)?;
    let ext = message::check_ext(params.get("ext"))?;
    Ok(Content {
        msg_type,
        body,
        ext,
        extra: extra(params)?,
    })
}

/// `markRead`: 0 or 1.
pub fn mark_read(params: &Params) -> Result<bool, ApiError> {
    params.switch("markRead", &["0", "1"], "1")
}

/// `msgidclient`, up to 128 characters.
pub fn msgidclient(params: &Params) -> Result<Option<String>, ApiError> {
    Ok(params
        .opt_max("msgidclient", 128)?
        .filter(|v| !v.is_empty())
        .map(str::to_owned))
}

/// A string parameter under either of NIM's spellings (`pushcontent` / `pushContent`),
/// answered with the first spelling as its name.
fn either<'a>(params: &'a Params, a: &'static str, b: &str) -> Option<(&'static str, &'a str)> {
    params.get(a).or_else(|| params.get(b)).map(|v| (a, v))
}

/// A parameter that must be JSON text of at most `max` characters (`want` says which kind).
pub fn json_param(
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
        if list.len() > MAX_FORCE_PUSH {
            return Err(ApiError::new(
                Code::TooManyAt,
                format!("{name} has more than {MAX_FORCE_PUSH} accids"),
            ));
        }
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
        if let Some(v) = params.one_of(name, allowed)? {
            out.insert(name.into(), json!(v.parse::<u8>().unwrap_or(0)));
        }
    }
    if let Some(n) = params.int("subType").ok().flatten().filter(|n| *n > 0) {
        out.insert("subType".into(), json!(n));
    } else if let Some(v) = params.get("subType").filter(|v| !v.trim().is_empty()) {
        return Err(ApiError::param(format!(
            "subType must be a positive integer: {v:?}"
        )));
    }
    Ok(if out.is_empty() {
        None
    } else {
        Some(Value::Object(out).to_string())
    })
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

/// What a targeted send selects: `two`/`toAccids`, `areaid`, `enterptypeid`.
pub fn selection(params: &Params) -> Result<Selection, ApiError> {
    Ok(Selection {
        accids: explicit(params)?,
        areas: params.id_list("areaid")?,
        types: params.id_list("enterptypeid")?,
    })
}

/// `ignoreTime=1`.
pub fn ignore_time(params: &Params) -> Result<bool, ApiError> {
    params.switch("ignoreTime", &["1"], "1")
}

/// A recall tombstone's body: `{"msg": …}` from `msg`.
pub fn recall_body(params: &Params) -> Result<String, ApiError> {
    let msg = params.opt_max("msg", 128)?.unwrap_or("");
    Ok(json!({ "msg": msg }).to_string())
}

/// NIM's other recall parameters, kept with the tombstone.
pub fn recall_extra(params: &Params) -> Result<Option<String>, ApiError> {
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
