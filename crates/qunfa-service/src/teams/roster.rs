//! Who is in a team and in what role: `add`, `kick`, `changeOwner`, `addManager`,
//! `removeManager`. Each writes one type-5 notification with its change, except invitations
//! still pending.

use std::collections::HashSet;

use qunfa_core::account::Accid;
use qunfa_core::ids::{AppId, Ordinal};
use qunfa_core::team::attach::{self, Op};
use qunfa_core::team::{Invitation, Member, Role, Tid};
use qunfa_core::{ApiError, Code};
use serde_json::json;

use super::manage::invite_notices;
use super::retrying;
use super::{
    Attempt, Decided, Notification, change_of, member_state, must_manage, must_own, no_permission,
    not_in_team, role_of, team_full,
};
use crate::Services;

/// `team/add`.
#[derive(Clone, Debug)]
pub struct AddMembers {
    pub tid: Tid,
    pub owner: Accid,
    pub members: Vec<Accid>,
    pub magree: bool,
    pub msg: String,
    pub attach: Option<String>,
}

/// `team/kick`.
#[derive(Clone, Debug)]
pub struct KickMembers {
    pub tid: Tid,
    pub owner: Accid,
    pub members: Vec<Accid>,
    /// Given as `member` (one accid): a non-member is 804, not `faccid`.
    pub single: bool,
    pub attach: Option<String>,
}

/// `team/changeOwner`.
#[derive(Clone, Debug)]
pub struct ChangeOwner {
    pub tid: Tid,
    pub owner: Accid,
    pub new_owner: Accid,
    /// The old owner leaves (`leave=1`) or stays as an ordinary member (`leave=2`).
    pub leave: bool,
    pub attach: Option<String>,
}

impl Services {
    /// `team/add`: members join at once (`magree=0`) or are invited (`magree=1`). Answers the
    /// invitees that could not join (not registered, or at their team limit).
    pub async fn add_members(&self, app: AppId, req: AddMembers) -> Result<Vec<Accid>, ApiError> {
        let op_o = self.registered(app, &req.owner).await?;
        retrying!(self, app, {
            let slot = self.fresh_team(app, req.tid).await?;
            let r = self.resolve(app, &req.members).await?;
            let mut faccid = r.unregistered;
            let (existing, candidates): (Vec<_>, Vec<_>) = {
                let st = slot.read();
                r.found
                    .into_iter()
                    .partition(|(_, o)| st.member(*o).is_some())
            };
            let (ok, over) = self.below_join_cap(app, candidates).await?;
            faccid.extend(over);
            let now = self.now_ms();
            let decided = {
                let st = slot.read();
                let role = role_of(&st, op_o, &req.owner)?;
                if !role.manages() && st.team.invitemode != 1 {
                    return Err(no_permission(format!(
                        "{} may not add members: the owner or a manager only (invitemode 0)",
                        req.owner
                    ))
                    .into());
                }
                if ok.is_empty() && faccid.is_empty() {
                    let names: Vec<&str> = existing.iter().map(|(a, _)| a.as_str()).collect();
                    return Err(ApiError::new(
                        Code::AlreadyInTeam,
                        format!("{} already in team {}", names.join(", "), req.tid),
                    )
                    .into());
                }
                if ok.is_empty() {
                    return Ok(faccid);
                }
                let limit = st.team.max_users;
                let mut change = change_of(&st, now);
                if req.magree {
                    if st.size() >= u64::from(limit) {
                        return Err(team_full(req.tid, limit).into());
                    }
                    change.invite = ok
                        .iter()
                        .map(|(a, o)| Invitation {
                            tid: req.tid,
                            ordinal: *o,
                            accid: a.clone(),
                            inviter: req.owner.clone(),
                            msg: req.msg.clone(),
                            attach: req.attach.clone(),
                            time_ms: now,
                        })
                        .collect();
                    let notices = invite_notices(&st.team, &change.invite);
                    Decided {
                        change,
                        notification: None,
                        notices,
                    }
                } else {
                    if st.size() + ok.len() as u64 > u64::from(limit) {
                        return Err(team_full(req.tid, limit).into());
                    }
                    let joined: Vec<Ordinal> = ok.iter().map(|(_, o)| *o).collect();
                    change.upsert = ok
                        .iter()
                        .map(|(a, o)| Member::new(*o, a.clone(), Role::Member, now))
                        .collect();
                    change.joined.clone_from(&joined);
                    change.uninvite.clone_from(&joined);
                    change.unapply.clone_from(&joined);
                    change.max_joined = Some(self.team_rules.max_joined);
                    let names: Vec<Accid> = ok.iter().map(|(a, _)| a.clone()).collect();
                    let notification = Notification::with_joined(
                        &st,
                        &joined,
                        Op::Invite,
                        &req.owner,
                        attach::ids(&names),
                        req.attach.clone(),
                    );
                    Decided::notified(change, notification)
                }
            };
            self.commit_team(app, decided).await?;
            Ok(faccid)
        })
    }

    /// `team/kick`: the owner kicks anyone but itself, a manager ordinary members only.
    /// Answers those listed in `members` that were not members.
    pub async fn kick_members(&self, app: AppId, req: KickMembers) -> Result<Vec<Accid>, ApiError> {
        let op_o = self.registered(app, &req.owner).await?;
        let mut targets = Vec::with_capacity(req.members.len());
        for a in &req.members {
            targets.push((a.clone(), self.registered(app, a).await?));
        }
        retrying!(self, app, {
            let slot = self.fresh_team(app, req.tid).await?;
            let decided = {
                let st = slot.read();
                let role = role_of(&st, op_o, &req.owner)?;
                must_manage(role, &req.owner, "kick")?;
                let mut faccid = Vec::new();
                let mut kicked: Vec<(Accid, Ordinal)> = Vec::new();
                for (a, o) in &targets {
                    match st.role(*o) {
                        None if req.single => return Err(not_in_team(a, req.tid).into()),
                        None => faccid.push(a.clone()),
                        Some(Role::Owner) => {
                            return Err(no_permission(format!(
                                "{a} is the owner of team {}: the owner cannot be kicked",
                                req.tid
                            ))
                            .into());
                        }
                        Some(Role::Manager) if role == Role::Manager => {
                            return Err(no_permission(format!(
                                "{} may not kick {a}: a manager kicks ordinary members only",
                                req.owner
                            ))
                            .into());
                        }
                        Some(_) => kicked.push((a.clone(), *o)),
                    }
                }
                if kicked.is_empty() {
                    let names: Vec<&str> = faccid.iter().map(Accid::as_str).collect();
                    return Err(ApiError::new(
                        Code::NotInTeam,
                        format!("{} not in team {}", names.join(", "), req.tid),
                    )
                    .into());
                }
                let mut change = change_of(&st, self.now_ms());
                change.left = kicked.iter().map(|(_, o)| *o).collect();
                let names: Vec<Accid> = kicked.iter().map(|(a, _)| a.clone()).collect();
                let n = Notification::to_members(
                    &st,
                    Op::Kick,
                    &req.owner,
                    attach::ids(&names),
                    req.attach.clone(),
                );
                (Decided::notified(change, n), faccid)
            };
            self.commit_team(app, decided.0).await?;
            Ok(decided.1)
        })
    }

    /// `team/changeOwner`: the owner hands the team to a member, and leaves or stays.
    pub async fn change_owner(&self, app: AppId, req: ChangeOwner) -> Result<(), ApiError> {
        let op_o = self.registered(app, &req.owner).await?;
        let new_o = self.registered(app, &req.new_owner).await?;
        retrying!(self, app, {
            let slot = self.fresh_team(app, req.tid).await?;
            {
                let st = slot.read();
                must_own(
                    role_of(&st, op_o, &req.owner)?,
                    &req.owner,
                    "change the owner",
                )?;
                if new_o == op_o {
                    return Err(member_state(format!(
                        "{} is the owner of team {} already",
                        req.new_owner, req.tid
                    ))
                    .into());
                }
                role_of(&st, new_o, &req.new_owner)?;
            }
            self.check_owned(app, &req.new_owner).await?;
            let decided = {
                let st = slot.read();
                let now = self.now_ms();
                let mut change = change_of(&st, now);
                let (Some(old), Some(new)) = (st.member(op_o), st.member(new_o)) else {
                    return Err(Attempt::Stale("the members changed".into()));
                };
                let mut new = new.clone();
                new.role = Role::Owner;
                new.updated_ms = now;
                change.upsert.push(new);
                if req.leave {
                    change.left.push(op_o);
                } else {
                    let mut old = old.clone();
                    old.role = Role::Member;
                    old.updated_ms = now;
                    change.upsert.push(old);
                }
                change.team.owner = req.new_owner.clone();
                change.max_owned = Some(self.team_rules.max_owned);
                let mut data = attach::id(&req.new_owner);
                data.insert("leave".into(), json!(req.leave));
                let n = Notification::to_members(
                    &st,
                    Op::OwnerTransfer,
                    &req.owner,
                    data,
                    req.attach.clone(),
                );
                Decided::notified(change, n)
            };
            self.commit_team(app, decided).await?;
            Ok(())
        })
    }

    /// `team/addManager` (`add`) and `team/removeManager`: the owner makes members managers
    /// or ordinary members again.
    pub async fn set_managers(
        &self,
        app: AppId,
        tid: Tid,
        owner: &Accid,
        members: &[Accid],
        add: bool,
        attach: Option<String>,
    ) -> Result<(), ApiError> {
        let op_o = self.registered(app, owner).await?;
        let mut targets = Vec::with_capacity(members.len());
        let mut seen = HashSet::new();
        for a in members {
            if seen.insert(a.clone()) {
                targets.push((a.clone(), self.registered(app, a).await?));
            }
        }
        let what = if add {
            "add managers"
        } else {
            "remove managers"
        };
        retrying!(self, app, {
            let slot = self.fresh_team(app, tid).await?;
            let decided = {
                let st = slot.read();
                must_own(role_of(&st, op_o, owner)?, owner, what)?;
                let now = self.now_ms();
                let mut change = change_of(&st, now);
                for (a, o) in &targets {
                    let m = st.member(*o).ok_or_else(|| not_in_team(a, tid))?;
                    match (add, m.role) {
                        (true, Role::Manager) => {
                            return Err(member_state(format!("{a} is a manager already")).into());
                        }
                        (true, Role::Owner) => {
                            return Err(member_state(format!("{a} is the owner")).into());
                        }
                        (false, Role::Manager) => {}
                        (false, _) => {
                            return Err(member_state(format!("{a} is not a manager")).into());
                        }
                        (true, Role::Member) => {}
                    }
                    let mut m = m.clone();
                    m.role = if add { Role::Manager } else { Role::Member };
                    m.updated_ms = now;
                    change.upsert.push(m);
                }
                let max = self.team_rules.max_managers;
                if add && st.with_role(Role::Manager).len() + targets.len() > max {
                    return Err(ApiError::new(
                        Code::TeamManagerLimit,
                        format!(
                            "team {tid} would have more than {max} managers (teams.max_managers)"
                        ),
                    )
                    .into());
                }
                let names: Vec<Accid> = targets.iter().map(|(a, _)| a.clone()).collect();
                let op = if add {
                    Op::AddManager
                } else {
                    Op::RemoveManager
                };
                let n =
                    Notification::to_members(&st, op, owner, attach::ids(&names), attach.clone());
                Decided::notified(change, n)
            };
            self.commit_team(app, decided).await?;
            Ok(())
        })
    }
}
