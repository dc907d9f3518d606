//! Managing teams: `create`, `remove` (dismiss) and `update`, and the helpers the member
//! changes of `roster.rs` share. Each writes one type-5 notification with its change, except
//! invitations still pending.

use qunfa_core::account::Accid;
use qunfa_core::bus::Notice;
use qunfa_core::ids::{AppId, Ordinal};
use qunfa_core::team::attach::{self, Op};
use qunfa_core::team::{Invitation, Member, Role, Team, Tid};
use qunfa_core::{ApiError, Code};
use serde_json::{Map, Value, json};

use super::retrying;
use super::{Attempt, Decided, Notification, change_of, must_own, no_permission, role_of};
use crate::Services;

/// The team fields of `create` and `update` (`None`: not given).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TeamPatch {
    pub tname: Option<String>,
    pub announcement: Option<String>,
    pub intro: Option<String>,
    pub custom: Option<String>,
    pub icon: Option<String>,
    pub joinmode: Option<u8>,
    pub beinvitemode: Option<u8>,
    pub invitemode: Option<u8>,
    pub uptinfomode: Option<u8>,
    pub upcustommode: Option<u8>,
    /// `teamMemberLimit`.
    pub max_users: Option<u32>,
    pub notify_close_online: Option<bool>,
    pub notify_close_persistent: Option<bool>,
}

impl TeamPatch {
    /// Applies the given fields; answers them in server-API names (for the notification).
    fn apply(&self, t: &mut Team) -> Map<String, Value> {
        let mut changed = Map::new();
        let mut text = |name: &str, v: &Option<String>, slot: &mut String| {
            if let Some(v) = v {
                slot.clone_from(v);
                changed.insert(name.into(), json!(v));
            }
        };
        text("tname", &self.tname, &mut t.tname);
        text("announcement", &self.announcement, &mut t.announcement);
        text("intro", &self.intro, &mut t.intro);
        text("custom", &self.custom, &mut t.custom);
        text("icon", &self.icon, &mut t.icon);
        for (name, v, slot) in [
            ("joinmode", self.joinmode, &mut t.joinmode),
            ("beinvitemode", self.beinvitemode, &mut t.beinvitemode),
            ("invitemode", self.invitemode, &mut t.invitemode),
            ("uptinfomode", self.uptinfomode, &mut t.uptinfomode),
            ("upcustommode", self.upcustommode, &mut t.upcustommode),
        ] {
            if let Some(v) = v {
                *slot = v;
                changed.insert(name.into(), json!(v));
            }
        }
        if let Some(n) = self.max_users {
            t.max_users = n;
            changed.insert("teamMemberLimit".into(), json!(n));
        }
        if let Some(b) = self.notify_close_online {
            t.notify_close_online = b;
            changed.insert("isNotifyCloseOnline".into(), json!(b));
        }
        if let Some(b) = self.notify_close_persistent {
            t.notify_close_persistent = b;
            changed.insert("isNotifyClosePersistent".into(), json!(b));
        }
        changed
    }

    fn is_empty(&self) -> bool {
        *self == TeamPatch::default()
    }
}

/// `team/create`.
#[derive(Clone, Debug)]
pub struct CreateTeam {
    pub owner: Accid,
    pub tname: String,
    /// Without the owner, repeats dropped.
    pub members: Vec<Accid>,
    pub msg: String,
    /// Invitees must accept (`magree=1`).
    pub magree: bool,
    pub joinmode: u8,
    /// The other fields (`tname` and `joinmode` here are ignored).
    pub fields: TeamPatch,
    pub attach: Option<String>,
}

/// What `create` answers: the new tid, and the invitees that could not join.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Created {
    pub tid: Tid,
    pub faccid: Vec<Accid>,
}

/// Accounts of a list resolved to ordinals: the registered ones, and those that are not.
pub(super) struct Resolved {
    pub(super) found: Vec<(Accid, Ordinal)>,
    pub(super) unregistered: Vec<Accid>,
}

impl Services {
    pub(super) async fn resolve(&self, app: AppId, accids: &[Accid]) -> Result<Resolved, ApiError> {
        let mut found = Vec::with_capacity(accids.len());
        let mut unregistered = Vec::new();
        for a in accids {
            match self.ordinal(app, a).await? {
                Some(o) => found.push((a.clone(), o)),
                None => unregistered.push(a.clone()),
            }
        }
        Ok(Resolved {
            found,
            unregistered,
        })
    }

    /// Of these accounts, those that may join one more team (`teams.max_joined`), and those
    /// that may not.
    pub(super) async fn below_join_cap(
        &self,
        app: AppId,
        accounts: Vec<(Accid, Ordinal)>,
    ) -> Result<(Vec<(Accid, Ordinal)>, Vec<Accid>), ApiError> {
        let counts = self
            .store
            .joined_counts(app, accounts.iter().map(|(_, o)| *o).collect())
            .await?;
        let cap = self.team_rules.max_joined;
        let (ok, over): (Vec<_>, Vec<_>) = accounts
            .into_iter()
            .zip(counts)
            .partition(|(_, n)| *n < cap);
        Ok((
            ok.into_iter().map(|(a, _)| a).collect(),
            over.into_iter().map(|((a, _), _)| a).collect(),
        ))
    }

    /// 414 unless `n` is a `teamMemberLimit` this deployment allows.
    pub(super) fn check_member_limit(&self, n: u32) -> Result<(), ApiError> {
        let max = self.team_rules.max_members;
        if (2..=max).contains(&n) {
            Ok(())
        } else {
            Err(ApiError::param(format!(
                "teamMemberLimit must be 2 to {max}: {n}"
            )))
        }
    }

    /// 806 when `owner` owns `teams.max_owned` teams already.
    pub(super) async fn check_owned(&self, app: AppId, owner: &Accid) -> Result<(), ApiError> {
        let max = self.team_rules.max_owned;
        if self.store.owned_count(app, owner).await? >= max {
            return Err(ApiError::new(
                Code::TeamOwnLimit,
                format!("{owner} owns {max} teams already (teams.max_owned)"),
            ));
        }
        Ok(())
    }

    /// `team/create`: a team owned by `owner`; the members join at once (`magree=0`) or are
    /// invited (`magree=1`). Invitees that are not registered or at their team limit are left
    /// out and answered in `faccid`.
    pub async fn create_team(&self, app: AppId, req: CreateTeam) -> Result<Created, ApiError> {
        let limit = req
            .fields
            .max_users
            .unwrap_or(qunfa_core::team::DEFAULT_MEMBER_LIMIT);
        self.check_member_limit(limit)?;
        let owner_o = self.registered(app, &req.owner).await?;
        // One tid for every try: a tid is never handed out twice, even when this create fails.
        let mut tid = None;
        retrying!(self, app, {
            self.check_owned(app, &req.owner).await?;
            let r = self.resolve(app, &req.members).await?;
            let mut faccid = r.unregistered;
            let mut everyone = r.found.clone();
            everyone.push((req.owner.clone(), owner_o));
            let (ok, over) = self.below_join_cap(app, everyone).await?;
            if over.contains(&req.owner) {
                return Err(ApiError::new(
                    Code::TooMany,
                    format!(
                        "{} is in {} teams already (teams.max_joined)",
                        req.owner, self.team_rules.max_joined
                    ),
                )
                .into());
            }
            faccid.extend(over);
            let invitees: Vec<(Accid, Ordinal)> =
                ok.into_iter().filter(|(_, o)| *o != owner_o).collect();
            if !req.magree && invitees.len() as u64 + 1 > u64::from(limit) {
                return Err(Attempt::Fail(ApiError::new(
                    Code::TeamFull,
                    format!(
                        "{} members and the owner are more than teamMemberLimit {limit}",
                        invitees.len()
                    ),
                )));
            }
            let t = match tid {
                Some(t) => t,
                None => {
                    let t = self.store.reserve_tid(app).await?;
                    tid = Some(t);
                    t
                }
            };
            let now = self.now_ms();
            let mut team = Team::new(t, req.tname.clone(), req.owner.clone(), now);
            req.fields.apply(&mut team);
            team.tname.clone_from(&req.tname);
            team.joinmode = req.joinmode;
            team.max_users = limit;
            let mut members = vec![Member::new(owner_o, req.owner.clone(), Role::Owner, now)];
            let mut invites = Vec::new();
            if req.magree {
                for (a, o) in &invitees {
                    invites.push(Invitation {
                        tid: t,
                        ordinal: *o,
                        accid: a.clone(),
                        inviter: req.owner.clone(),
                        msg: req.msg.clone(),
                        attach: req.attach.clone(),
                        time_ms: now,
                    });
                }
            } else {
                members.extend(
                    invitees
                        .iter()
                        .map(|(a, o)| Member::new(*o, a.clone(), Role::Member, now)),
                );
            }
            let admitted: Vec<Accid> = members[1..].iter().map(|m| m.accid.clone()).collect();
            let mut data = attach::ids(&admitted);
            data.insert(
                "team_info".into(),
                Value::Object(attach::team_info(&team, members.len() as u64)),
            );
            let bits = std::sync::Arc::new(members.iter().map(|m| m.ordinal.0).collect());
            let notices = invite_notices(&team, &invites);
            let change = qunfa_core::store::TeamChange {
                tid: t,
                expected_version: 0,
                joined: members.iter().map(|m| m.ordinal).collect(),
                upsert: members,
                left: Vec::new(),
                invite: invites,
                uninvite: Vec::new(),
                apply: Vec::new(),
                unapply: Vec::new(),
                notification: None,
                max_owned: Some(self.team_rules.max_owned),
                max_joined: Some(self.team_rules.max_joined),
                team,
            };
            let notification = Notification {
                op: Op::Invite,
                from: req.owner.clone(),
                data,
                attach: req.attach.clone(),
                audience: bits,
                encoded: None,
            };
            self.commit_team(
                app,
                Decided {
                    change,
                    notification: Some(notification),
                    notices,
                },
            )
            .await?;
            Ok(Created {
                tid: t,
                faccid: faccid.clone(),
            })
        })
    }

    /// `team/remove`: the owner dismisses the team. Its tid stays taken and its history
    /// readable; pending invitations and applications go.
    pub async fn dismiss_team(
        &self,
        app: AppId,
        tid: Tid,
        owner: &Accid,
        attach: Option<String>,
    ) -> Result<(), ApiError> {
        let op_o = self.registered(app, owner).await?;
        retrying!(self, app, {
            let slot = self.fresh_team(app, tid).await?;
            let decided = {
                let st = slot.read();
                must_own(role_of(&st, op_o, owner)?, owner, "dismiss the team")?;
                let mut change = change_of(&st, self.now_ms());
                change.team.dismissed = true;
                let n =
                    Notification::to_members(&st, Op::Dismiss, owner, Map::new(), attach.clone());
                Decided::notified(change, n)
            };
            self.commit_team(app, decided).await?;
            Ok(())
        })
    }

    /// `team/update`: `tname`, `announcement`, `intro`, `icon` by the owner or a manager (any
    /// member when `uptinfomode=1`), `custom` likewise with `upcustommode`, the modes and
    /// `teamMemberLimit` by the owner or a manager only.
    pub async fn update_team(
        &self,
        app: AppId,
        tid: Tid,
        owner: &Accid,
        patch: TeamPatch,
        attach: Option<String>,
    ) -> Result<(), ApiError> {
        if patch.is_empty() {
            return Err(ApiError::param(
                "nothing to update: give tname, announcement, intro, custom, icon, joinmode, \
                 beinvitemode, invitemode, uptinfomode, upcustommode or teamMemberLimit",
            ));
        }
        if let Some(n) = patch.max_users {
            self.check_member_limit(n)?;
        }
        let op_o = self.registered(app, owner).await?;
        retrying!(self, app, {
            let slot = self.fresh_team(app, tid).await?;
            let decided = {
                let st = slot.read();
                let role = role_of(&st, op_o, owner)?;
                let info = patch.tname.is_some()
                    || patch.announcement.is_some()
                    || patch.intro.is_some()
                    || patch.icon.is_some();
                let modes = patch.joinmode.is_some()
                    || patch.beinvitemode.is_some()
                    || patch.invitemode.is_some()
                    || patch.uptinfomode.is_some()
                    || patch.upcustommode.is_some()
                    || patch.max_users.is_some()
                    || patch.notify_close_online.is_some()
                    || patch.notify_close_persistent.is_some();
                if !role.manages() {
                    if modes {
                        return Err(no_permission(format!(
                            "{owner} may not change the team's modes or limit: the owner or a manager only"
                        ))
                        .into());
                    }
                    if info && st.team.uptinfomode != 1 {
                        return Err(no_permission(format!(
                            "{owner} may not update the team: the owner or a manager only (uptinfomode 0)"
                        ))
                        .into());
                    }
                    if patch.custom.is_some() && st.team.upcustommode != 1 {
                        return Err(no_permission(format!(
                            "{owner} may not update custom: the owner or a manager only (upcustommode 0)"
                        ))
                        .into());
                    }
                }
                if let Some(n) = patch.max_users
                    && u64::from(n) < st.size()
                {
                    return Err(ApiError::param(format!(
                        "teamMemberLimit must be at least the team's size {}: {n}",
                        st.size()
                    ))
                    .into());
                }
                let mut change = change_of(&st, self.now_ms());
                let changed = patch.apply(&mut change.team);
                let n = Notification::to_members(
                    &st,
                    Op::Update,
                    owner,
                    attach::team_info_data(changed),
                    attach.clone(),
                );
                Decided::notified(change, n)
            };
            self.commit_team(app, decided).await?;
            Ok(())
        })
    }
}

/// The `teamInvite` notices of new invitations, one per invitee.
pub(crate) fn invite_notices(team: &Team, invites: &[Invitation]) -> Vec<(Vec<Ordinal>, Notice)> {
    invites
        .iter()
        .map(|i| {
            (
                vec![i.ordinal],
                Notice::TeamInvite {
                    tid: team.tid,
                    tname: team.tname.clone(),
                    inviter: i.inviter.clone(),
                    msg: i.msg.clone(),
                    attach: i.attach.clone(),
                    time: i.time_ms,
                },
            )
        })
        .collect()
}
