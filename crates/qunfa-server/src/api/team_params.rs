//! The `team/*` parameters several endpoints share (tids, accid lists, the team fields of
//! `create` and `update`, modes, `attach`), parsed with NIM's limits, and how teams and
//! members are shown (`tinfos`, `tinfo`, `infos`, `mutes`, `data`).

use qunfa_core::ApiError;
use qunfa_core::account::Accid;
use qunfa_core::store::Membership;
use qunfa_core::team::attach::team_info;
use qunfa_core::team::{self, Member, Tid};
use qunfa_service::teams::manage::TeamPatch;
use qunfa_service::teams::members::TeamView;
use serde_json::{Map, Value, json};

use super::Params;

/// `tid` (or another name), a number or a numeric string.
pub fn tid(params: &Params, name: &str) -> Result<Tid, ApiError> {
    Tid::parse(params.get(name).unwrap_or(""), name)
}

/// A JSON array of accids, repeats dropped (first place kept), at most `max` of them.
pub fn accids(params: &Params, name: &str, max: usize) -> Result<Vec<Accid>, ApiError> {
    let raw = params.required(name)?;
    let values: Vec<Value> = serde_json::from_str(raw)
        .map_err(|_| ApiError::param(format!("{name} must be a JSON array of accids")))?;
    let mut out: Vec<Accid> = Vec::with_capacity(values.len());
    for v in values {
        let Value::String(s) = v else {
            return Err(ApiError::param(format!(
                "{name} must be a JSON array of accids"
            )));
        };
        let a = Accid::parse(&s, name)?;
        if !out.contains(&a) {
            out.push(a);
        }
    }
    if out.len() > max {
        return Err(ApiError::param(format!(
            "{name} has more than {max} accids"
        )));
    }
    Ok(out)
}

/// An optional text of at most `max` characters (`Some("")` when given empty).
pub fn text(params: &Params, name: &str, max: usize) -> Result<Option<String>, ApiError> {
    Ok(params.opt_max(name, max)?.map(str::to_owned))
}

/// A text that must be given, at most `max` characters.
pub fn required_text(params: &Params, name: &str, max: usize) -> Result<String, ApiError> {
    let v = params.required(name)?;
    if v.chars().count() > max {
        return Err(ApiError::too_long(name, max));
    }
    Ok(v.to_owned())
}

/// A mode: one of `allowed` (digits), absent: `None`.
pub fn mode(params: &Params, name: &str, allowed: &[&str]) -> Result<Option<u8>, ApiError> {
    Ok(params
        .one_of(name, allowed)?
        .and_then(|v| v.parse::<u8>().ok()))
}

/// A mode that must be given.
pub fn required_mode(params: &Params, name: &str, allowed: &[&str]) -> Result<u8, ApiError> {
    mode(params, name, allowed)?.ok_or_else(|| ApiError::missing(name))
}

/// `attach` (≤ 512), empty: absent.
pub fn attach(params: &Params) -> Result<Option<String>, ApiError> {
    Ok(params
        .opt_max("attach", team::MAX_ATTACH)?
        .filter(|a| !a.is_empty())
        .map(str::to_owned))
}

/// `msg` (≤ 150), absent: empty.
pub fn msg(params: &Params) -> Result<String, ApiError> {
    Ok(text(params, "msg", team::MAX_MSG)?.unwrap_or_default())
}

/// The team fields of `create` and `update`.
pub fn patch(params: &Params) -> Result<TeamPatch, ApiError> {
    let limit = match params.int("teamMemberLimit")? {
        None => None,
        Some(n) => Some(u32::try_from(n).map_err(|_| {
            ApiError::param(format!(
                "teamMemberLimit must be 2 to the app's maximum: {n}"
            ))
        })?),
    };
    let flag = |name: &str| -> Result<Option<bool>, ApiError> {
        Ok(mode(params, name, &["0", "1"])?.map(|v| v == 1))
    };
    let tname = text(params, "tname", team::MAX_TNAME)?;
    if tname.as_deref() == Some("") {
        return Err(ApiError::missing("tname"));
    }
    Ok(TeamPatch {
        tname,
        announcement: text(params, "announcement", team::MAX_ANNOUNCEMENT)?,
        intro: text(params, "intro", team::MAX_INTRO)?,
        custom: text(params, "custom", team::MAX_CUSTOM)?,
        icon: text(params, "icon", team::MAX_ICON)?,
        joinmode: mode(params, "joinmode", &["0", "1", "2"])?,
        beinvitemode: mode(params, "beinvitemode", &["0", "1"])?,
        invitemode: mode(params, "invitemode", &["0", "1"])?,
        uptinfomode: mode(params, "uptinfomode", &["0", "1"])?,
        upcustommode: mode(params, "upcustommode", &["0", "1"])?,
        max_users: limit,
        notify_close_online: flag("isNotifyCloseOnline")?,
        notify_close_persistent: flag("isNotifyClosePersistent")?,
    })
}

/// `faccid` of `create`, `add` and `kick`: absent when everyone was handled.
pub fn faccid(out: &mut Map<String, Value>, accids: &[Accid], msg: &str) {
    if !accids.is_empty() {
        out.insert("faccid".into(), json!({"accid": accids, "msg": msg}));
    }
}

/// A member as `queryDetail` shows it.
pub fn member(m: &Member) -> Value {
    json!({
        "accid": m.accid,
        "nick": m.nick,
        "mute": m.mute,
        "custom": m.custom,
        "createtime": m.joined_ms,
        "updatetime": m.updated_ms,
    })
}

/// A team of `team/query` (`ope=1`: with the managers' and ordinary members' accids).
pub fn tinfo(v: &TeamView, with_members: bool) -> Value {
    let mut o = team_info(&v.team, v.size);
    if with_members {
        let accids = |l: &[Member]| json!(l.iter().map(|m| &m.accid).collect::<Vec<_>>());
        o.insert("admins".into(), accids(&v.managers));
        o.insert("members".into(), accids(&v.members));
    }
    Value::Object(o)
}

/// A team of `team/queryDetail`: members as objects.
pub fn tinfo_detail(v: &TeamView) -> Value {
    let mut o = team_info(&v.team, v.size);
    o.insert("owner".into(), v.owner.as_ref().map_or(Value::Null, member));
    o.insert(
        "admins".into(),
        json!(v.managers.iter().map(member).collect::<Vec<_>>()),
    );
    o.insert(
        "members".into(),
        json!(v.members.iter().map(member).collect::<Vec<_>>()),
    );
    Value::Object(o)
}

/// A team of `team/joinTeams`.
pub fn joined(m: &Membership) -> Value {
    Value::Object(team_info(&m.team, m.size))
}

/// The account's record in a team, for `team/listMemberInfo`.
pub fn member_info(m: &Membership) -> Value {
    json!({
        "tid": m.team.tid,
        "accid": m.member.accid,
        "nick": m.member.nick,
        "mute": m.member.mute,
        "managerPushEnable": true,
        "pushEnable": m.member.push_enable,
        "createtime": m.member.joined_ms,
        "updatetime": m.member.updated_ms,
    })
}
