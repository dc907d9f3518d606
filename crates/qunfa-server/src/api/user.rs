//! `user/*`: NIM's account endpoints, plus `areaid`/`enterptypeid` and `batchCreate`.

use std::sync::Arc;

use axum::extract::State;
use qunfa_core::ApiError;
use qunfa_core::account::{
    Accid, Account, NewAccount, Profile, SETTABLE_FIELDS, hash_token, token_or_generate,
};
use qunfa_core::dict::check_id;
use serde_json::{Map, Value, json};

use super::{Answer, Nim, Params, ok};
use crate::state::AppState;

/// Most accounts `getUinfos` answers for at once (NIM's limit).
pub const MAX_UINFOS: usize = 200;
/// Most accounts one `batchCreate` call may carry.
pub const MAX_BATCH_CREATE: usize = 1000;

/// The profile fields present in `params` (only those in `allowed`), each checked.
fn profile(params: &Params, allowed: &[&str]) -> Result<Profile, ApiError> {
    let mut p = Profile::default();
    for field in allowed {
        if let Some(v) = params.get(field) {
            if matches!(*field, "areaid" | "enterptypeid") && !v.is_empty() {
                check_id(field, v)?;
            }
            p.set(field, v.to_owned())?;
        }
    }
    Ok(p)
}

pub async fn create(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let accid = params.accid("accid")?;
    let token = token_or_generate(params.get("token").map(str::to_owned))?;
    let profile = profile(&params, &SETTABLE_FIELDS)?;
    let name = profile.name.clone().unwrap_or_default();
    let new = NewAccount {
        token_hash: hash_token(&accid, &token),
        accid: accid.clone(),
        profile,
    };
    s.services.create_account(app.id, new).await?;
    ok(json!({"info": {"accid": accid, "name": name, "token": token}}))
}

/// `user/update`: sets the token (and `props`, `areaid`, `enterptypeid`).
pub async fn update(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let accid = params.accid("accid")?;
    let token = match params.get("token") {
        Some("") => return Err(ApiError::missing("token").into()),
        Some(t) => Some(hash_token(&accid, &token_or_generate(Some(t.to_owned()))?)),
        None => None,
    };
    let profile = profile(&params, &["props", "areaid", "enterptypeid"])?;
    s.services
        .update_account(app.id, &accid, token, profile)
        .await?;
    ok(json!({}))
}

pub async fn refresh_token(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let accid = params.accid("accid")?;
    let token = s.services.refresh_token(app.id, &accid).await?;
    ok(json!({"info": {"accid": accid, "token": token}}))
}

pub async fn block(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let accid = params.accid("accid")?;
    let needkick = params.bool("needkick", false)?;
    params.opt_max("kickNotifyExt", 1024)?;
    s.services.block(app.id, &accid, needkick).await?;
    ok(json!({}))
}

pub async fn unblock(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let accid = params.accid("accid")?;
    s.services.unblock(app.id, &accid).await?;
    ok(json!({}))
}

/// One account as `getUinfos` shows it: unset fields are left out, `gender` is always there.
pub(super) fn uinfo(a: &Account) -> Value {
    let p = &a.profile;
    let mut m = Map::new();
    m.insert("accid".into(), json!(a.accid));
    for (k, v) in [
        ("name", &p.name),
        ("icon", &p.icon),
        ("sign", &p.sign),
        ("email", &p.email),
        ("birth", &p.birth),
        ("mobile", &p.mobile),
        ("ex", &p.ex),
        ("areaid", &p.areaid),
        ("enterptypeid", &p.enterptypeid),
    ] {
        if let Some(v) = v {
            m.insert(k.into(), json!(v));
        }
    }
    m.insert("gender".into(), json!(p.gender.unwrap_or(0)));
    Value::Object(m)
}

pub async fn get_uinfos(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let raw = params.string_array("accids", MAX_UINFOS)?;
    let accids = raw
        .iter()
        .map(|a| Accid::parse(a, "accids"))
        .collect::<Result<Vec<_>, _>>()?;
    let accounts = s.services.accounts(app.id, &accids).await?;
    ok(json!({"uinfos": accounts.iter().map(uinfo).collect::<Vec<_>>()}))
}

pub async fn update_uinfo(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let accid = params.accid("accid")?;
    params.opt_max("bid", 1024)?;
    let allowed: Vec<&str> = SETTABLE_FIELDS
        .iter()
        .copied()
        .filter(|f| *f != "props")
        .collect();
    let profile = profile(&params, &allowed)?;
    s.services.update_uinfo(app.id, &accid, profile).await?;
    ok(json!({}))
}

/// One entry of `batchCreate`'s `users`, checked like `user/create`'s parameters.
fn batch_item(i: usize, v: &Value) -> Result<(NewAccount, String), (String, ApiError)> {
    let Value::Object(obj) = v else {
        return Err((
            String::new(),
            ApiError::param(format!("users[{i}] must be a JSON object")),
        ));
    };
    let mut pairs: Vec<(String, String)> = Vec::with_capacity(obj.len());
    for (k, v) in obj {
        let s = match v {
            Value::Null => continue,
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        pairs.push((k.clone(), s));
    }
    let given = pairs
        .iter()
        .find(|(k, _)| k == "accid")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let fail = |e: ApiError| (given.clone(), e);
    if let Some((k, _)) = pairs
        .iter()
        .find(|(k, _)| k != "accid" && k != "token" && !SETTABLE_FIELDS.contains(&k.as_str()))
    {
        return Err(fail(ApiError::param(format!(
            "users[{i}].{k} is not an account field"
        ))));
    }
    let params: Params = pairs.into_iter().collect();
    let accid = params.accid("accid").map_err(fail)?;
    let token = token_or_generate(params.get("token").map(str::to_owned)).map_err(fail)?;
    let profile = profile(&params, &SETTABLE_FIELDS).map_err(fail)?;
    Ok((
        NewAccount {
            token_hash: hash_token(&accid, &token),
            accid,
            profile,
        },
        token,
    ))
}

/// `user/batchCreate`: up to 1,000 accounts in one durable write, each with its own result.
pub async fn batch_create(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let raw = params.required("users")?;
    let items: Vec<Value> = serde_json::from_str(raw)
        .map_err(|_| ApiError::param("users must be a JSON array of account objects"))?;
    if items.len() > MAX_BATCH_CREATE {
        return Err(
            ApiError::param(format!("users has more than {MAX_BATCH_CREATE} entries")).into(),
        );
    }
    let mut results: Vec<Value> = Vec::with_capacity(items.len());
    let mut to_create = Vec::new();
    let mut slots = Vec::new();
    for (i, v) in items.iter().enumerate() {
        match batch_item(i, v) {
            Ok((acc, token)) => {
                results.push(json!({"accid": acc.accid, "code": 200, "token": token}));
                slots.push(i);
                to_create.push(acc);
            }
            Err((given, e)) => {
                results.push(json!({"accid": given, "code": e.code.as_u16(), "desc": e.desc}))
            }
        }
    }
    let stored = s.services.create_accounts(app.id, to_create).await?;
    for (slot, r) in slots.into_iter().zip(stored) {
        if let Err(e) = r {
            let e = ApiError::from(e);
            let accid = results[slot]["accid"].clone();
            results[slot] = json!({"accid": accid, "code": e.code.as_u16(), "desc": e.desc});
        }
    }
    let created = results.iter().filter(|r| r["code"] == 200).count();
    ok(json!({"data": {"created": created, "failed": results.len() - created, "results": results}}))
}
