//! `team/*`: NIM's advanced teams (高级群), and qunfa's extension endpoints for invitations and
//! applications (`acceptInvite`, `rejectInvite`, `apply`, `passApply`, `rejectApply`). Every
//! parameter is checked (format and counts first) before the one service call.

use std::sync::Arc;

use axum::extract::State;
use qunfa_core::ApiError;
use qunfa_core::team::{self, MUTE_ALL, MUTE_MEMBERS, MUTE_NONE, Tid};
use qunfa_service::teams::manage::CreateTeam;
use qunfa_service::teams::members::NickUpdate;
use qunfa_service::teams::roster::{AddMembers, ChangeOwner, KickMembers};
use serde_json::{Map, Value, json};

use super::team_params::{
    accids, attach, faccid, joined, member_info, mode, msg, patch, required_mode, required_text,
    text, tid, tinfo, tinfo_detail,
};
use super::{Answer, Nim, ok};
use crate::state::AppState;

/// Most members one `create` lists (the owner aside): NIM's 200 with the owner.
pub const MAX_CREATE: usize = 199;
/// Most accids one `add` or `kick` lists.
pub const MAX_ADD: usize = 200;
/// Most accids one `addManager` / `removeManager` lists.
pub const MAX_MANAGERS_PER_CALL: usize = 10;
/// Most tids one `team/query` asks for.
pub const MAX_QUERY: usize = 30;

const NOT_JOINED: &str = "not register or over their team limit";

/// `team/create`: answers the new `tid` at the top level, and `faccid` for invitees that could
/// not join.
pub async fn create(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let tname = required_text(&params, "tname", team::MAX_TNAME)?;
    let owner = params.accid("owner")?;
    let members: Vec<_> = accids(&params, "members", MAX_CREATE + 1)?
        .into_iter()
        .filter(|a| *a != owner)
        .collect();
    if members.len() > MAX_CREATE {
        return Err(ApiError::param(format!("members has more than {MAX_CREATE} accids")).into());
    }
    let msg = required_text(&params, "msg", team::MAX_MSG)?;
    let magree = required_mode(&params, "magree", &["0", "1"])? == 1;
    let joinmode = required_mode(&params, "joinmode", &["0", "1", "2"])?;
    let fields = patch(&params)?;
    let req = CreateTeam {
        owner,
        tname,
        members,
        msg,
        magree,
        joinmode,
        fields,
        attach: attach(&params)?,
    };
    let created = s.services.create_team(app.id, req).await?;
    let mut out = Map::new();
    out.insert("tid".into(), json!(created.tid));
    faccid(&mut out, &created.faccid, NOT_JOINED);
    ok(Value::Object(out))
}

/// `team/add`.
pub async fn add(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let tid = tid(&params, "tid")?;
    let owner = params.accid("owner")?;
    let members = accids(&params, "members", MAX_ADD)?;
    let magree = required_mode(&params, "magree", &["0", "1"])? == 1;
    let msg = required_text(&params, "msg", team::MAX_MSG)?;
    let req = AddMembers {
        tid,
        owner,
        members,
        magree,
        msg,
        attach: attach(&params)?,
    };
    let failed = s.services.add_members(app.id, req).await?;
    let mut out = Map::new();
    faccid(&mut out, &failed, NOT_JOINED);
    ok(Value::Object(out))
}

/// `team/kick`: `member` (one accid, preferred) or `members` (up to 200).
pub async fn kick(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let tid = tid(&params, "tid")?;
    let owner = params.accid("owner")?;
    let (members, single) = match params.get("member").filter(|m| !m.is_empty()) {
        Some(_) => (vec![params.accid("member")?], true),
        None if params.get("members").is_some_and(|m| !m.is_empty()) => {
            (accids(&params, "members", MAX_ADD)?, false)
        }
        None => return Err(ApiError::param("missing parameter: member or members").into()),
    };
    let req = KickMembers {
        tid,
        owner,
        members,
        single,
        attach: attach(&params)?,
    };
    let failed = s.services.kick_members(app.id, req).await?;
    let mut out = Map::new();
    faccid(&mut out, &failed, "not in the team");
    ok(Value::Object(out))
}

/// `team/remove`: the owner dismisses the team.
pub async fn remove(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let tid = tid(&params, "tid")?;
    let owner = params.accid("owner")?;
    let attach = attach(&params)?;
    s.services.dismiss_team(app.id, tid, &owner, attach).await?;
    ok(json!({}))
}

/// `team/update`.
pub async fn update(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let tid = tid(&params, "tid")?;
    let owner = params.accid("owner")?;
    let patch = patch(&params)?;
    let attach = attach(&params)?;
    s.services
        .update_team(app.id, tid, &owner, patch, attach)
        .await?;
    ok(json!({}))
}

/// `team/query`: `tinfos` (with `admins` and `members` for `ope=1`).
pub async fn query(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let tids = Tid::parse_list(params.required("tids")?, "tids", MAX_QUERY)?;
    let with_members = required_mode(&params, "ope", &["0", "1"])? == 1;
    let ignore_invalid = params.bool("ignoreInvalid", false)?;
    let (found, invalid) = s
        .services
        .query_teams(app.id, &tids, ignore_invalid)
        .await?;
    let tinfos: Vec<Value> = found.iter().map(|v| tinfo(v, with_members)).collect();
    let mut out = json!({ "tinfos": tinfos });
    if ignore_invalid {
        out["invalidTids"] = json!(invalid);
    }
    ok(out)
}

/// `team/queryDetail`: `tinfo`, with the owner, managers and members as objects.
pub async fn query_detail(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let tid = tid(&params, "tid")?;
    let v = s.services.query_team(app.id, tid).await?;
    ok(json!({ "tinfo": tinfo_detail(&v) }))
}

/// `team/getMarkReadInfo`: who read a `markRead=1` team message.
pub async fn get_mark_read_info(
    State(s): State<Arc<AppState>>,
    Nim { app, params }: Nim,
) -> Answer {
    let tid = tid(&params, "tid")?;
    let msgid = params.msgid("msgid")?;
    let from = params.accid("fromAccid")?;
    let snapshot = params.bool("snapshot", false)?;
    let info = s
        .services
        .mark_read_info(app.id, tid, msgid, &from, snapshot)
        .await?;
    let mut data = json!({"readSize": info.read, "unreadSize": info.unread});
    if let Some((read, unread)) = info.lists {
        data["readAccids"] = json!(read);
        data["unreadAccids"] = json!(unread);
    }
    ok(json!({ "data": data }))
}

/// `team/changeOwner`: `leave` 1 (the old owner leaves) or 2 (it stays a member).
pub async fn change_owner(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let req = ChangeOwner {
        tid: tid(&params, "tid")?,
        owner: params.accid("owner")?,
        new_owner: params.accid("newowner")?,
        leave: required_mode(&params, "leave", &["1", "2"])? == 1,
        attach: attach(&params)?,
    };
    s.services.change_owner(app.id, req).await?;
    ok(json!({}))
}

async fn managers(
    s: &AppState,
    app: qunfa_core::AppId,
    params: super::Params,
    add: bool,
) -> Answer {
    let tid = tid(&params, "tid")?;
    let owner = params.accid("owner")?;
    let members = accids(&params, "members", MAX_MANAGERS_PER_CALL)?;
    let attach = attach(&params)?;
    s.services
        .set_managers(app, tid, &owner, &members, add, attach)
        .await?;
    ok(json!({}))
}

/// `team/addManager`: at most 10 per call.
pub async fn add_manager(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    managers(&s, app.id, params, true).await
}

/// `team/removeManager`: at most 10 per call.
pub async fn remove_manager(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    managers(&s, app.id, params, false).await
}

/// `team/joinTeams`: the teams the account is in (`count`, `infos`).
pub async fn join_teams(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let accid = params.accid("accid")?;
    let list = s.services.memberships(app.id, &accid).await?;
    let infos: Vec<Value> = list.iter().map(joined).collect();
    ok(json!({"count": infos.len(), "infos": infos}))
}

/// `team/updateTeamNick`: a member's nick and custom field in one team.
pub async fn update_team_nick(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let tid = tid(&params, "tid")?;
    let owner = params.accid("owner")?;
    let accid = params.accid("accid")?;
    let nick = text(&params, "nick", team::MAX_NICK)?;
    let custom = params.get("custom").map(str::to_owned);
    if custom
        .as_ref()
        .is_some_and(|c| c.len() > team::MEMBER_CUSTOM_BYTES)
    {
        return Err(ApiError::param(format!(
            "custom is longer than {} bytes",
            team::MEMBER_CUSTOM_BYTES
        ))
        .into());
    }
    let req = NickUpdate {
        tid,
        owner,
        accid,
        nick,
        custom,
    };
    s.services.update_team_nick(app.id, req).await?;
    ok(json!({}))
}

/// `team/muteTeam`: the member's own notifications off (`ope=1`) or on (`ope=2`).
pub async fn mute_team(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let tid = tid(&params, "tid")?;
    let accid = params.accid("accid")?;
    let push = required_mode(&params, "ope", &["1", "2"])? == 2;
    s.services.set_team_push(app.id, tid, &accid, push).await?;
    ok(json!({}))
}

/// `team/muteTlist`: ban (`mute=1`) or let speak (`mute=0`) one member.
pub async fn mute_tlist(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let tid = tid(&params, "tid")?;
    let owner = params.accid("owner")?;
    let accid = params.accid("accid")?;
    let mute = required_mode(&params, "mute", &["0", "1"])? == 1;
    let attach = attach(&params)?;
    s.services
        .mute_member(app.id, tid, &owner, &accid, mute, attach)
        .await?;
    ok(json!({}))
}

/// `team/muteTlistAll`: `mute` (true/false, wins) and/or `muteType` (0, 1, 3).
pub async fn mute_tlist_all(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let tid = tid(&params, "tid")?;
    let owner = params.accid("owner")?;
    let mute_type = match params.get("mute").filter(|v| !v.trim().is_empty()) {
        Some(_) => {
            if params.bool("mute", false)? {
                MUTE_MEMBERS
            } else {
                MUTE_NONE
            }
        }
        None => match mode(&params, "muteType", &["0", "1", "3"])? {
            Some(t) => t,
            None => return Err(ApiError::param("missing parameter: mute or muteType").into()),
        },
    };
    debug_assert!([MUTE_NONE, MUTE_MEMBERS, MUTE_ALL].contains(&mute_type));
    let attach = attach(&params)?;
    s.services
        .mute_team(app.id, tid, &owner, mute_type, attach)
        .await?;
    ok(json!({}))
}

/// `team/listTeamMute`: the banned members (`mutes`).
pub async fn list_team_mute(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let tid = tid(&params, "tid")?;
    let owner = params.accid("owner")?;
    let list = s.services.muted_members(app.id, tid, &owner).await?;
    let mutes: Vec<Value> = list
        .iter()
        .map(|m| json!({"nick": m.nick, "accid": m.accid, "tid": tid, "type": 1}))
        .collect();
    ok(json!({ "mutes": mutes }))
}

/// `team/leave`.
pub async fn leave(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let tid = tid(&params, "tid")?;
    let accid = params.accid("accid")?;
    let attach = attach(&params)?;
    s.services.leave_team(app.id, tid, &accid, attach).await?;
    ok(json!({}))
}

/// `team/listMemberInfo`: the account's record in each of its teams (`data`).
pub async fn list_member_info(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let accid = params.accid("accid")?;
    let list = s.services.memberships(app.id, &accid).await?;
    let data: Vec<Value> = list.iter().map(member_info).collect();
    ok(json!({ "data": data }))
}

/// `team/acceptInvite` (qunfa).
pub async fn accept_invite(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let tid = tid(&params, "tid")?;
    let accid = params.accid("accid")?;
    s.services.accept_invite(app.id, tid, &accid).await?;
    ok(json!({}))
}

/// `team/rejectInvite` (qunfa).
pub async fn reject_invite(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let tid = tid(&params, "tid")?;
    let accid = params.accid("accid")?;
    let msg = msg(&params)?;
    s.services.reject_invite(app.id, tid, &accid, msg).await?;
    ok(json!({}))
}

/// `team/apply` (qunfa): `data.pending` says whether the applicant waits for a decision.
pub async fn apply(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let tid = tid(&params, "tid")?;
    let accid = params.accid("accid")?;
    let msg = msg(&params)?;
    let pending = s.services.apply_to_team(app.id, tid, &accid, msg).await?;
    ok(json!({"data": {"pending": pending}}))
}

/// `team/passApply` (qunfa).
pub async fn pass_apply(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let tid = tid(&params, "tid")?;
    let owner = params.accid("owner")?;
    let accid = params.accid("accid")?;
    s.services.pass_apply(app.id, tid, &owner, &accid).await?;
    ok(json!({}))
}

/// `team/rejectApply` (qunfa).
pub async fn reject_apply(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let tid = tid(&params, "tid")?;
    let owner = params.accid("owner")?;
    let accid = params.accid("accid")?;
    let msg = msg(&params)?;
    s.services
        .reject_apply(app.id, tid, &owner, &accid, msg)
        .await?;
    ok(json!({}))
}

/// The `team/*` routes, and the team endpoints of other groups (`team_msg.rs`).
pub fn routes() -> super::Routes<Arc<AppState>> {
    use super::team_msg;
    use axum::routing::post;
    let r = |name: &str| format!("/nimserver/team/{name}.action");
    super::Routes::new()
        .route(&r("create"), post(create))
        .route(&r("add"), post(add))
        .route(&r("kick"), post(kick))
        .route(&r("remove"), post(remove))
        .route(&r("update"), post(update))
        .route(&r("query"), post(query))
        .route(&r("queryDetail"), post(query_detail))
        .route(&r("getMarkReadInfo"), post(get_mark_read_info))
        .route(&r("changeOwner"), post(change_owner))
        .route(&r("addManager"), post(add_manager))
        .route(&r("removeManager"), post(remove_manager))
        .route(&r("joinTeams"), post(join_teams))
        .route(&r("updateTeamNick"), post(update_team_nick))
        .route(&r("muteTeam"), post(mute_team))
        .route(&r("muteTlist"), post(mute_tlist))
        .route(&r("muteTlistAll"), post(mute_tlist_all))
        .route(&r("listTeamMute"), post(list_team_mute))
        .route(&r("leave"), post(leave))
        .route(&r("listMemberInfo"), post(list_member_info))
        .route(&r("acceptInvite"), post(accept_invite))
        .route(&r("rejectInvite"), post(reject_invite))
        .route(&r("apply"), post(apply))
        .route(&r("passApply"), post(pass_apply))
        .route(&r("rejectApply"), post(reject_apply))
        .route(
            "/nimserver/msg/sendAttachMsg.action",
            post(team_msg::send_attach_msg),
        )
        .route(
            "/nimserver/msg/markReadTeamMsg.action",
            post(team_msg::mark_read_team_msg),
        )
        .route(
            "/nimserver/history/queryTeamMsg.action",
            post(team_msg::query_team_msg),
        )
}
