//! Invitations (`magree=1`) and applications (`joinmode=1`): qunfa's extension endpoints
//! `acceptInvite`, `rejectInvite`, `apply`, `passApply`, `rejectApply` and their gateway
//! frames. A pending invitee or applicant is not a member and holds no seat.

use qunfa_core::account::Accid;
use qunfa_core::bus::Notice;
use qunfa_core::ids::{AppId, Ordinal};
use qunfa_core::team::attach::{self, Op};
use qunfa_core::team::{Application, Invitation, Member, Role, Tid};
use qunfa_core::{ApiError, Code};

use super::retrying;
use super::{
    Attempt, Decided, Notification, TeamState, change_of, member_state, must_manage, no_permission,
    role_of, team_full,
};
use crate::Services;

/// 809 when `o` is a member already, 801 when the team is full, 419 when the account is at
/// `teams.max_joined`.
async fn may_join(
    s: &Services,
    app: AppId,
    st_size_limit: (u64, u32, bool),
    tid: Tid,
    accid: &Accid,
    o: Ordinal,
) -> Result<(), ApiError> {
    let (size, limit, member) = st_size_limit;
    if member {
        return Err(ApiError::new(
            Code::AlreadyInTeam,
            format!("{accid} is already in team {tid}"),
        ));
    }
    if size >= u64::from(limit) {
        return Err(team_full(tid, limit));
    }
    let cap = s.team_rules.max_joined;
    if s.store.joined_counts(app, vec![o]).await?.first().copied() >= Some(cap) {
        return Err(ApiError::new(
            Code::TooMany,
            format!("{accid} is in {cap} teams already (teams.max_joined)"),
        ));
    }
    Ok(())
}

fn seats(st: &TeamState, o: Ordinal) -> (u64, u32, bool) {
    (st.size(), st.team.max_users, st.member(o).is_some())
}

/// The change that admits `accid`, with its notification (`op`, from `from`).
fn admit(
    st: &TeamState,
    accid: &Accid,
    o: Ordinal,
    op: Op,
    from: &Accid,
    now: i64,
    max_joined: u64,
) -> Decided {
    let mut change = change_of(st, now);
    change
        .upsert
        .push(Member::new(o, accid.clone(), Role::Member, now));
    change.joined.push(o);
    change.uninvite.push(o);
    change.unapply.push(o);
    change.max_joined = Some(max_joined);
    let n = Notification::with_joined(st, &[o], op, from, attach::id(accid), None);
    Decided::notified(change, n)
}

impl Services {
    /// `team/acceptInvite`: the invitee becomes a member (notification id 9).
    pub async fn accept_invite(&self, app: AppId, tid: Tid, accid: &Accid) -> Result<(), ApiError> {
        let o = self.registered(app, accid).await?;
        retrying!(self, app, {
            let slot = self.fresh_team(app, tid).await?;
            if self.store.invitation(app, tid, o).await?.is_none() {
                return Err(member_state(format!("no pending invitation for {accid}")).into());
            }
            let seats = seats(&slot.read(), o);
            may_join(self, app, seats, tid, accid, o).await?;
            let d = admit(
                &slot.read(),
                accid,
                o,
                Op::InviteAccept,
                accid,
                self.now_ms(),
                self.team_rules.max_joined,
            );
            self.commit_team(app, d).await?;
            Ok(())
        })
    }

    /// `team/rejectInvite`: the invitation is dropped; the inviter's sessions hear of it.
    pub async fn reject_invite(
        &self,
        app: AppId,
        tid: Tid,
        accid: &Accid,
        msg: String,
    ) -> Result<(), ApiError> {
        let o = self.registered(app, accid).await?;
        retrying!(self, app, {
            let slot = self.fresh_team(app, tid).await?;
            let Some(inv) = self.store.invitation(app, tid, o).await? else {
                return Err(member_state(format!("no pending invitation for {accid}")).into());
            };
            let inviter = self.ordinal(app, &inv.inviter).await?;
            let now = self.now_ms();
            let mut change = change_of(&slot.read(), now);
            change.uninvite.push(o);
            let notice = Notice::TeamInviteRejected {
                tid,
                accid: accid.clone(),
                msg: msg.clone(),
                time: now,
            };
            let d = Decided {
                change,
                notification: None,
                notices: vec![(inviter.into_iter().collect(), notice)],
            };
            self.commit_team(app, d).await?;
            Ok(())
        })
    }

    /// `team/apply`: joins at once (`joinmode` 0, notification id 5 from the applicant:
    /// answers `false`), or waits for the owner or a manager (`joinmode` 1: answers `true`,
    /// and they hear of it); `joinmode` 2 refuses (802).
    pub async fn apply_to_team(
        &self,
        app: AppId,
        tid: Tid,
        accid: &Accid,
        msg: String,
    ) -> Result<bool, ApiError> {
        let o = self.registered(app, accid).await?;
        retrying!(self, app, {
            let slot = self.fresh_team(app, tid).await?;
            let (joinmode, seats) = {
                let st = slot.read();
                (st.team.joinmode, seats(&st, o))
            };
            if seats.2 {
                return Err(ApiError::new(
                    Code::AlreadyInTeam,
                    format!("{accid} is already in team {tid}"),
                )
                .into());
            }
            match joinmode {
                0 => {
                    may_join(self, app, seats, tid, accid, o).await?;
                    let d = admit(
                        &slot.read(),
                        accid,
                        o,
                        Op::ApplyPass,
                        accid,
                        self.now_ms(),
                        self.team_rules.max_joined,
                    );
                    self.commit_team(app, d).await?;
                    Ok(false)
                }
                1 => {
                    let now = self.now_ms();
                    let d = {
                        let st = slot.read();
                        let mut change = change_of(&st, now);
                        change.apply.push(Application {
                            tid,
                            ordinal: o,
                            accid: accid.clone(),
                            msg: msg.clone(),
                            time_ms: now,
                        });
                        let deciders: Vec<Ordinal> = st
                            .members
                            .values()
                            .filter(|m| m.role.manages())
                            .map(|m| m.ordinal)
                            .collect();
                        let notice = Notice::TeamApply {
                            tid,
                            accid: accid.clone(),
                            msg: msg.clone(),
                            time: now,
                        };
                        Decided {
                            change,
                            notification: None,
                            notices: vec![(deciders, notice)],
                        }
                    };
                    self.commit_team(app, d).await?;
                    Ok(true)
                }
                _ => Err(no_permission("joinmode 2: nobody may apply").into()),
            }
        })
    }

    /// The pending application of `accid`, once the operator's right to decide is checked.
    async fn pending_application(
        &self,
        app: AppId,
        tid: Tid,
        owner: &Accid,
        accid: &Accid,
    ) -> Result<(std::sync::Arc<super::TeamSlot>, Ordinal, Application), Attempt> {
        let op_o = self.registered(app, owner).await?;
        let o = self.registered(app, accid).await?;
        let slot = self.fresh_team(app, tid).await?;
        {
            let st = slot.read();
            must_manage(role_of(&st, op_o, owner)?, owner, "decide applications")?;
        }
        let Some(a) = self.store.application(app, tid, o).await? else {
            return Err(member_state(format!("no pending application from {accid}")).into());
        };
        Ok((slot, o, a))
    }

    /// `team/passApply`: the applicant becomes a member (notification id 5).
    pub async fn pass_apply(
        &self,
        app: AppId,
        tid: Tid,
        owner: &Accid,
        accid: &Accid,
    ) -> Result<(), ApiError> {
        retrying!(self, app, {
            let (slot, o, _) = self.pending_application(app, tid, owner, accid).await?;
            let seats = seats(&slot.read(), o);
            may_join(self, app, seats, tid, accid, o).await?;
            let d = admit(
                &slot.read(),
                accid,
                o,
                Op::ApplyPass,
                owner,
                self.now_ms(),
                self.team_rules.max_joined,
            );
            self.commit_team(app, d).await?;
            Ok(())
        })
    }

    /// `team/rejectApply`: the application is dropped; the applicant's sessions hear of it.
    pub async fn reject_apply(
        &self,
        app: AppId,
        tid: Tid,
        owner: &Accid,
        accid: &Accid,
        msg: String,
    ) -> Result<(), ApiError> {
        retrying!(self, app, {
            let (slot, o, _) = self.pending_application(app, tid, owner, accid).await?;
            let now = self.now_ms();
            let mut change = change_of(&slot.read(), now);
            change.unapply.push(o);
            let notice = Notice::TeamApplyRejected {
                tid,
                by: owner.clone(),
                msg: msg.clone(),
                time: now,
            };
            let d = Decided {
                change,
                notification: None,
                notices: vec![(vec![o], notice)],
            };
            self.commit_team(app, d).await?;
            Ok(())
        })
    }

    /// The account's pending invitations with their teams' names (sent to its sessions after
    /// `synced`, on every login until answered).
    pub async fn pending_invitations(
        &self,
        app: AppId,
        ordinal: Ordinal,
    ) -> Result<Vec<(Invitation, String)>, ApiError> {
        let mut out = Vec::new();
        for inv in self.store.invitations_of(app, ordinal).await? {
            let tname = match self.teams.get(app, inv.tid).await? {
                Some(slot) => slot.read().team.tname.clone(),
                None => continue,
            };
            out.push((inv, tname));
        }
        Ok(out)
    }
}
