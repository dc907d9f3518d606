//! Members and listings: `leave`, `updateTeamNick`, `muteTeam`, `muteTlist`, `muteTlistAll`,
//! `listTeamMute`, `query`, `queryDetail`, `joinTeams`, `listMemberInfo`.

use qunfa_core::account::Accid;
use qunfa_core::ids::AppId;
use qunfa_core::store::Membership;
use qunfa_core::team::attach::{self, Op};
use qunfa_core::team::{MUTE_ALL, MUTE_MEMBERS, MUTE_NONE, Member, Role, Team, Tid};
use qunfa_core::{ApiError, Code};
use serde_json::{Map, json};

use super::retrying;
use super::{
    Decided, Notification, change_of, must_manage, no_permission, not_in_team, role_of,
    team_not_found,
};
use crate::Services;

/// A team as `team/query` and `team/queryDetail` show it.
#[derive(Clone, Debug)]
pub struct TeamView {
    pub team: Team,
    pub size: u64,
    pub owner: Option<Member>,
    /// Managers and ordinary members, each in ordinal order.
    pub managers: Vec<Member>,
    pub members: Vec<Member>,
}

/// `team/updateTeamNick`.
#[derive(Clone, Debug)]
pub struct NickUpdate {
    pub tid: Tid,
    pub owner: Accid,
    pub accid: Accid,
    pub nick: Option<String>,
    pub custom: Option<String>,
}

impl Services {
    /// `team/leave`: a member leaves; the owner must hand the team over first (802).
    pub async fn leave_team(
        &self,
        app: AppId,
        tid: Tid,
        accid: &Accid,
        attach: Option<String>,
    ) -> Result<(), ApiError> {
        let o = self.registered(app, accid).await?;
        retrying!(self, app, {
            let slot = self.fresh_team(app, tid).await?;
            let decided = {
                let st = slot.read();
                if role_of(&st, o, accid)? == Role::Owner {
                    return Err(no_permission("the owner must changeOwner before leaving").into());
                }
                let mut change = change_of(&st, self.now_ms());
                change.left.push(o);
                let n = Notification::to_members(
                    &st,
                    Op::Leave,
                    accid,
                    attach::id(accid),
                    attach.clone(),
                );
                Decided::notified(change, n)
            };
            self.commit_team(app, decided).await?;
            Ok(())
        })
    }

    /// Changes one member's record (no notification): `f` edits it once the operator's right
    /// is checked by `allowed(operator role, target role, operator is target)`.
    async fn edit_member(
        &self,
        app: AppId,
        tid: Tid,
        operator: &Accid,
        target: &Accid,
        allowed: impl Fn(Role, Role, bool) -> Result<(), ApiError>,
        edit: impl Fn(&mut Member),
    ) -> Result<(), ApiError> {
        let op_o = self.registered(app, operator).await?;
        let t_o = self.registered(app, target).await?;
        retrying!(self, app, {
            let slot = self.fresh_team(app, tid).await?;
            let decided = {
                let st = slot.read();
                let role = role_of(&st, op_o, operator)?;
                let m = st.member(t_o).ok_or_else(|| not_in_team(target, tid))?;
                allowed(role, m.role, op_o == t_o)?;
                let now = self.now_ms();
                let mut change = change_of(&st, now);
                let mut m = m.clone();
                edit(&mut m);
                m.updated_ms = now;
                change.upsert.push(m);
                Decided {
                    change,
                    notification: None,
                    notices: Vec::new(),
                }
            };
            self.commit_team(app, decided).await?;
            Ok(())
        })
    }

    /// `team/updateTeamNick`: the owner or a manager for anyone, a member for itself.
    pub async fn update_team_nick(&self, app: AppId, req: NickUpdate) -> Result<(), ApiError> {
        if req.nick.is_none() && req.custom.is_none() {
            return Err(ApiError::param("nothing to update: give nick or custom"));
        }
        let owner = req.owner.clone();
        self.edit_member(
            app,
            req.tid,
            &req.owner,
            &req.accid,
            |role, _, itself| {
                if itself || role.manages() {
                    Ok(())
                } else {
                    Err(no_permission(format!(
                        "{owner} may not change another member's nick: the owner or a manager only"
                    )))
                }
            },
            |m| {
                if let Some(n) = &req.nick {
                    m.nick.clone_from(n);
                }
                if let Some(c) = &req.custom {
                    m.custom.clone_from(c);
                }
            },
        )
        .await
    }

    /// `team/muteTeam`: a member's own notification switch (`push_enable`).
    pub async fn set_team_push(
        &self,
        app: AppId,
        tid: Tid,
        accid: &Accid,
        push_enable: bool,
    ) -> Result<(), ApiError> {
        self.edit_member(
            app,
            tid,
            accid,
            accid,
            |_, _, _| Ok(()),
            |m| m.push_enable = push_enable,
        )
        .await
    }

    /// `team/muteTlist`: the owner or a manager bans (or lets speak) one member; a manager
    /// cannot ban the owner or a manager.
    pub async fn mute_member(
        &self,
        app: AppId,
        tid: Tid,
        owner: &Accid,
        accid: &Accid,
        mute: bool,
        attach: Option<String>,
    ) -> Result<(), ApiError> {
        let op_o = self.registered(app, owner).await?;
        let t_o = self.registered(app, accid).await?;
        retrying!(self, app, {
            let slot = self.fresh_team(app, tid).await?;
            let decided = {
                let st = slot.read();
                let role = role_of(&st, op_o, owner)?;
                must_manage(role, owner, "ban members")?;
                let m = st.member(t_o).ok_or_else(|| not_in_team(accid, tid))?;
                if role == Role::Manager && m.role != Role::Member && op_o != t_o {
                    return Err(no_permission(format!(
                        "{owner} may not ban {accid}: a manager bans ordinary members only"
                    ))
                    .into());
                }
                let now = self.now_ms();
                let mut change = change_of(&st, now);
                let mut m = m.clone();
                m.mute = mute;
                m.updated_ms = now;
                change.upsert.push(m);
                let mut data = attach::id(accid);
                data.insert("mute".into(), json!(u8::from(mute)));
                let n = Notification::to_members(&st, Op::MuteMember, owner, data, attach.clone());
                Decided::notified(change, n)
            };
            self.commit_team(app, decided).await?;
            Ok(())
        })
    }

    /// `team/muteTlistAll`: the owner or a manager bans the ordinary members (`muteType` 1),
    /// everyone (3), or nobody (0).
    pub async fn mute_team(
        &self,
        app: AppId,
        tid: Tid,
        owner: &Accid,
        mute_type: u8,
        attach: Option<String>,
    ) -> Result<(), ApiError> {
        debug_assert!([MUTE_NONE, MUTE_MEMBERS, MUTE_ALL].contains(&mute_type));
        let op_o = self.registered(app, owner).await?;
        retrying!(self, app, {
            let slot = self.fresh_team(app, tid).await?;
            let decided = {
                let st = slot.read();
                must_manage(role_of(&st, op_o, owner)?, owner, "mute the team")?;
                let mut change = change_of(&st, self.now_ms());
                change.team.mute_type = mute_type;
                let mut info = Map::new();
                info.insert("muteType".into(), json!(mute_type));
                info.insert("mute".into(), json!(mute_type != MUTE_NONE));
                let n = Notification::to_members(
                    &st,
                    Op::Update,
                    owner,
                    attach::team_info_data(info),
                    attach.clone(),
                );
                Decided::notified(change, n)
            };
            self.commit_team(app, decided).await?;
            Ok(())
        })
    }

    /// `team/listTeamMute`: the members banned by `muteTlist`, for the owner or a manager.
    pub async fn muted_members(
        &self,
        app: AppId,
        tid: Tid,
        owner: &Accid,
    ) -> Result<Vec<Member>, ApiError> {
        let op_o = self.registered(app, owner).await?;
        let slot = self.fresh_team(app, tid).await?;
        let st = slot.read();
        must_manage(role_of(&st, op_o, owner)?, owner, "list banned members")?;
        let mut out: Vec<Member> = st.members.values().filter(|m| m.mute).cloned().collect();
        out.sort_by_key(|m| m.ordinal);
        Ok(out)
    }

    /// A team as `query` shows it.
    async fn view(&self, app: AppId, tid: Tid) -> Result<Option<TeamView>, ApiError> {
        let Some(slot) = self.teams.get(app, tid).await? else {
            return Ok(None);
        };
        let st = slot.read();
        if st.team.dismissed {
            return Ok(None);
        }
        Ok(Some(TeamView {
            team: st.team.clone(),
            size: st.size(),
            owner: st.owner().cloned(),
            managers: st.with_role(Role::Manager).into_iter().cloned().collect(),
            members: st.with_role(Role::Member).into_iter().cloned().collect(),
        }))
    }

    /// `team/query`: the teams in the order asked; with `ignore_invalid` an unknown or
    /// dismissed tid is answered among the second list, else it is 803.
    pub async fn query_teams(
        &self,
        app: AppId,
        tids: &[Tid],
        ignore_invalid: bool,
    ) -> Result<(Vec<TeamView>, Vec<Tid>), ApiError> {
        if self.shared() {
            self.follow(app).await?;
        }
        let mut found = Vec::with_capacity(tids.len());
        let mut invalid = Vec::new();
        for &tid in tids {
            match self.view(app, tid).await? {
                Some(v) => found.push(v),
                None if ignore_invalid => invalid.push(tid),
                None => return Err(team_not_found(tid)),
            }
        }
        Ok((found, invalid))
    }

    /// `team/queryDetail`.
    pub async fn query_team(&self, app: AppId, tid: Tid) -> Result<TeamView, ApiError> {
        if self.shared() {
            self.follow(app).await?;
        }
        self.view(app, tid)
            .await?
            .ok_or_else(|| team_not_found(tid))
    }

    /// `team/joinTeams` and `team/listMemberInfo`: the account's teams with its record in each.
    pub async fn memberships(
        &self,
        app: AppId,
        accid: &Accid,
    ) -> Result<Vec<Membership>, ApiError> {
        let o = self.registered(app, accid).await?;
        Ok(self.store.memberships(app, o).await?)
    }

    /// 812 when `who` (with `role`) may not speak in the team now.
    pub(crate) fn check_not_muted(team: &Team, m: &Member) -> Result<(), ApiError> {
        let muted = |why: String| Err(ApiError::new(Code::TeamMuted, why));
        if m.mute {
            return muted(format!("{} is banned in team {}", m.accid, team.tid));
        }
        match (team.mute_type, m.role) {
            (MUTE_ALL, _) => muted(format!("team {} is muted (muteType 3)", team.tid)),
            (MUTE_MEMBERS, Role::Member) => muted(format!(
                "team {} is muted for ordinary members (muteType 1)",
                team.tid
            )),
            _ => Ok(()),
        }
    }
}
