//! Team messages: `sendMsg ope=1` (and the gateway's team send), `sendMsgToAll` with `tids`,
//! `sendAttachMsg` custom notifications, `recall type=8`, `history/queryTeamMsg`.
//!
//! A team message is stored once; its audience is the team's member bitmap at its msgid
//! (the sender included, so its other sessions get it too), referred to by hash. The store
//! writes it only if the team is still at the version the sender was checked on.

use std::sync::Arc;

use qunfa_core::account::Accid;
use qunfa_core::bus::Target;
use qunfa_core::ids::{AppId, MsgId, Ordinal};
use qunfa_core::message::{Message, MsgKind, NewMessage, Sent};
use qunfa_core::store::{StoreError, TeamGuard, TeamMsgQuery, internal};
use qunfa_core::team::Tid;
use qunfa_core::{ApiError, Code};
use roaring::RoaringBitmap;

use super::retrying;
use super::{TeamAudience, not_in_team, team_not_found};
use crate::Services;
use crate::content::Content;
use crate::recall::P2pRecall;
use crate::send::{TargetedSend, publish};

/// `msg/sendMsg` with `ope=1`, and a client's team send.
#[derive(Clone, Debug)]
pub struct TeamSend {
    pub from: Accid,
    pub tid: Tid,
    pub content: Content,
    pub mark_read: bool,
    /// Idempotency key: a repeat by the same sender inside the window answers the first send.
    pub msgidclient: Option<String>,
}

/// What a sender may send into a team with, as checked.
#[derive(Clone)]
pub(crate) struct SendCtx {
    guard: TeamGuard,
    bits: Arc<RoaringBitmap>,
    audience: Arc<TeamAudience>,
}

impl SendCtx {
    /// A message into the team from its sender: audience by hash (with the bits the first
    /// time this node sends with it).
    fn message(&self, kind: MsgKind, from: &Accid, msg_type: u16, body: String) -> NewMessage {
        let mut m = NewMessage::new(kind, from.clone(), msg_type, body);
        m.tid = Some(self.guard.tid);
        m.audience_digest = Some(self.audience.hash);
        if !self.audience.is_stored() {
            m.audience = Some(self.audience.encoded.clone());
        }
        m.recipients = self.bits.len().saturating_sub(1);
        m
    }
}

/// `msg/sendMsgToAll` with `tids`: what went out.
#[derive(Clone, Debug)]
pub struct AllSent {
    /// The targeted part, when a user selection was given.
    pub mass: Option<Sent>,
    pub teams: Vec<(Tid, Sent)>,
    pub timetag: i64,
    pub antispam: bool,
}

/// Who a custom notification (`sendAttachMsg`) is for.
#[derive(Clone, Debug)]
pub enum NotifyTo {
    Account(Accid),
    Team(Tid),
}

/// `msg/sendAttachMsg`.
#[derive(Clone, Debug)]
pub struct NotifySend {
    pub from: Accid,
    pub to: NotifyTo,
    pub attach: String,
    /// `save=2`: kept for clients that are offline (else online only).
    pub offline: bool,
    pub extra: Option<String>,
}

/// `msg/recall` with `type=8`.
#[derive(Clone, Debug)]
pub struct TeamRecall {
    pub msgid: MsgId,
    pub from: Accid,
    pub tid: Tid,
    pub ignore_time: bool,
    pub body: String,
    pub extra: Option<String>,
}

/// `history/queryTeamMsg`.
#[derive(Clone, Debug)]
pub struct TeamHistory {
    pub tid: Tid,
    pub accid: Accid,
    pub begin_ms: i64,
    pub end_ms: i64,
    pub limit: usize,
    pub ascending: bool,
    pub types: Vec<u16>,
    /// `checkTeamValid` (default): the team must exist and `accid` be a member now; off: the
    /// team may be dismissed and `accid` a former member.
    pub check_valid: bool,
    pub exclude_msgid: Option<MsgId>,
}

impl Services {
    fn sender_ctx_once(
        &self,
        st: &super::TeamState,
        from: &Accid,
        from_o: Ordinal,
    ) -> Result<SendCtx, ApiError> {
        let m = st
            .member(from_o)
            .ok_or_else(|| not_in_team(from, st.team.tid))?;
        Services::check_not_muted(&st.team, m)?;
        Ok(SendCtx {
            guard: TeamGuard {
                tid: st.team.tid,
                version: st.team.version,
            },
            bits: st.bits.clone(),
            audience: st.audience(),
        })
    }

    /// Checks that `from` may send into `tid` now: 803, 804, 812. A refusal on a shared store
    /// is decided again once caught up (another node may have just admitted the sender).
    pub(crate) async fn sender_ctx(
        &self,
        app: AppId,
        tid: Tid,
        from: &Accid,
        from_o: Ordinal,
    ) -> Result<SendCtx, ApiError> {
        let first = match self.team_slot(app, tid).await {
            Ok(slot) => self.sender_ctx_once(&slot.read(), from, from_o),
            Err(e) => Err(e),
        };
        match first {
            Err(e) if self.shared() && e.code != Code::Internal => {
                self.follow(app).await?;
                let slot = self.team_slot(app, tid).await?;
                self.sender_ctx_once(&slot.read(), from, from_o)
            }
            r => r,
        }
    }

    /// Stores messages under team guards, then publishes those that are new; on its own task,
    /// like [`Services::commit`].
    pub(crate) async fn commit_guarded(
        &self,
        app: AppId,
        guards: Vec<TeamGuard>,
        mut msgs: Vec<(NewMessage, Target)>,
        dedupe_since_ms: i64,
    ) -> Result<Vec<Sent>, StoreError> {
        let copied = self.stamp(app, msgs.iter_mut().map(|(m, _)| m));
        let hooks = self.hooks.clone();
        let store = self.store.clone();
        let bus = self.bus.clone();
        let now = self.now_ms();
        let task = tokio::spawn(async move {
            let (new, targets): (Vec<NewMessage>, Vec<Target>) = msgs.into_iter().unzip();
            let sent = store
                .store_guarded(app, guards, new.clone(), now, dedupe_since_ms)
                .await?;
            if copied {
                hooks.queued(app);
            }
            publish(&*bus, app, crate::send::live(&new, targets, &sent));
            Ok(sent)
        });
        task.await.map_err(internal)?
    }

    fn check_reads_on(&self, mark_read: bool) -> Result<(), ApiError> {
        if mark_read && !self.team_rules.read_receipts {
            return Err(reads_off());
        }
        Ok(())
    }

    /// `msg/sendMsg ope=1`: one message into a team, from a member that may speak.
    pub async fn send_team(&self, app: AppId, req: TeamSend) -> Result<Sent, ApiError> {
        self.send_team_with(app, req, None).await
    }

    /// [`Services::send_team`], with the context of its copy (a client's type and device).
    pub(crate) async fn send_team_with(
        &self,
        app: AppId,
        req: TeamSend,
        copy: Option<String>,
    ) -> Result<Sent, ApiError> {
        self.check_reads_on(req.mark_read)?;
        let from_o = self.registered(app, &req.from).await?;
        let antispam = self.words.hits(app, &req.content.shown_text()).await?;
        let body = req.content.body_text();
        let since = self.now_ms() - self.rules.dedupe_window_secs * 1000;
        retrying!(self, app, {
            let ctx = self.sender_ctx(app, req.tid, &req.from, from_o).await?;
            let mut m = ctx.message(MsgKind::Team, &req.from, req.content.msg_type, body.clone());
            m.antispam = antispam;
            m.ext.clone_from(&req.content.ext);
            m.extra.clone_from(&req.content.extra);
            m.mark_read = req.mark_read;
            m.msgidclient.clone_from(&req.msgidclient);
            m.copy.clone_from(&copy);
            let target = Target::Audience(ctx.bits.clone());
            let sent = self
                .commit_guarded(app, vec![ctx.guard], vec![(m, target)], since)
                .await?;
            ctx.audience.mark_stored();
            sent.into_iter().next().ok_or_else(|| {
                ApiError::internal("store answered no result for one message").into()
            })
        })
    }

    /// `msg/sendMsgToAll` with `tids`: the message into each team (from `from`, a member of
    /// each) and, with a user selection (`users`), to it too: one durable write, all or
    /// nothing.
    pub async fn send_to_all_and_teams(
        &self,
        app: AppId,
        req: TargetedSend,
        tids: Vec<Tid>,
        users: bool,
    ) -> Result<AllSent, ApiError> {
        self.check_reads_on(req.mark_read)?;
        let content = req.content.clone();
        let (mark_read, key) = (req.mark_read, req.msgidclient.clone());
        let mut mass = if users {
            Some(self.targeted_message(app, req.clone()).await?)
        } else {
            None
        };
        if let Some((m, ..)) = &mut mass
            && self.copying(app, MsgKind::Mass)
        {
            // The copy's `selection` names the teams the same call sent into.
            m.copy = Some(serde_json::json!({ "tids": tids }).to_string());
        }
        let (from, from_o) = match &mass {
            Some((m, ..)) => {
                let o = self.registered(app, &m.from).await?;
                (m.from.clone(), o)
            }
            None => self.sender(app, req.from.clone()).await?,
        };
        let antispam = match &mass {
            Some((m, ..)) => m.antispam,
            None => self.words.hits(app, &content.shown_text()).await?,
        };
        let body = content.body_text();
        let since = self.now_ms() - self.rules.dedupe_window_secs * 1000;
        let sent = retrying!(self, app, {
            let mut guards = Vec::with_capacity(tids.len());
            let mut msgs = Vec::with_capacity(tids.len() + 1);
            let mut ctxs = Vec::with_capacity(tids.len());
            if let Some((m, bits, _)) = &mass {
                msgs.push((m.clone(), Target::Audience(bits.clone())));
            }
            for &tid in &tids {
                let ctx = self.sender_ctx(app, tid, &from, from_o).await?;
                let mut m = ctx.message(MsgKind::Team, &from, content.msg_type, body.clone());
                m.antispam = antispam;
                m.ext.clone_from(&content.ext);
                m.extra.clone_from(&content.extra);
                m.mark_read = mark_read;
                m.msgidclient.clone_from(&key);
                guards.push(ctx.guard);
                msgs.push((m, Target::Audience(ctx.bits.clone())));
                ctxs.push(ctx);
            }
            let sent = self.commit_guarded(app, guards, msgs, since).await?;
            for c in &ctxs {
                c.audience.mark_stored();
            }
            Ok(sent)
        })?;
        let mut sent = sent.into_iter();
        let mass_sent = match &mass {
            Some((_, bits, hash)) => {
                let s = sent
                    .next()
                    .ok_or_else(|| ApiError::internal("store answered no mass result"))?;
                if !s.duplicate {
                    self.audiences.put(app, *hash, bits.clone());
                }
                Some(s)
            }
            None => None,
        };
        let teams: Vec<(Tid, Sent)> = tids.iter().copied().zip(sent).collect();
        let timetag = mass_sent
            .as_ref()
            .or(teams.first().map(|(_, s)| s))
            .map_or_else(|| self.now_ms(), |s| s.timetag);
        Ok(AllSent {
            mass: mass_sent,
            teams,
            timetag,
            antispam,
        })
    }

    /// `msg/sendAttachMsg`: a custom notification to an account (`msgtype=0`) or to a team's
    /// members (`msgtype=1`, from a member that may speak). Kept for catch-up with `save=2`,
    /// never listed in a history.
    pub async fn send_notify(&self, app: AppId, req: NotifySend) -> Result<(), ApiError> {
        let from_o = self.registered(app, &req.from).await?;
        match &req.to {
            NotifyTo::Account(to) => {
                let to_o = self.registered(app, to).await?;
                let mut m = NewMessage::new(MsgKind::Notify, req.from.clone(), 0, req.attach);
                m.to = Some(to.clone());
                m.to_ordinal = Some(to_o);
                m.offline = req.offline;
                m.extra = req.extra;
                let now = self.now_ms();
                self.commit_one(app, m, Target::One(to_o), now).await?;
                Ok(())
            }
            NotifyTo::Team(tid) => {
                let tid = *tid;
                retrying!(self, app, {
                    let ctx = self.sender_ctx(app, tid, &req.from, from_o).await?;
                    let mut m = ctx.message(MsgKind::Notify, &req.from, 0, req.attach.clone());
                    m.offline = req.offline;
                    m.extra.clone_from(&req.extra);
                    let now = self.now_ms();
                    let target = Target::Audience(ctx.bits.clone());
                    self.commit_guarded(app, vec![ctx.guard], vec![(m, target)], now)
                        .await?;
                    ctx.audience.mark_stored();
                    Ok(())
                })
            }
        }
    }

    /// `msg/recall type=8`: the sender withdraws its team message while still a member (a
    /// former member: 403 `not allow!`). A message that does not exist, or is not from `from`
    /// in `tid`, answers 200 with nothing done, as NIM does.
    pub async fn recall_team(&self, app: AppId, r: TeamRecall) -> Result<(), ApiError> {
        let Some(m) = self.store.message(app, r.msgid).await? else {
            return Ok(());
        };
        let same =
            m.kind == MsgKind::Team && m.tid == Some(r.tid) && m.from == r.from && m.msg_type != 5;
        if !same || m.recalled_ms.is_some() {
            return Ok(());
        }
        let from_o = self.registered(app, &r.from).await?;
        let member = match self.teams.get(app, r.tid).await? {
            Some(slot) => {
                if self.shared() {
                    self.follow(app).await?;
                }
                let st = slot.read();
                !st.team.dismissed && st.member(from_o).is_some()
            }
            None => false,
        };
        if !member {
            return Err(ApiError::new(Code::Forbidden, "not allow!"));
        }
        self.check_recallable(&m, r.ignore_time, "deleteMsgid")?;
        let mut t = NewMessage::new(MsgKind::Recall, r.from, 8, r.body);
        t.ref_msgid = Some(r.msgid);
        t.tid = Some(r.tid);
        t.audience_digest = m.audience_hash;
        t.recipients = m.recipients;
        t.extra = r.extra;
        if self.copying(app, MsgKind::Recall) {
            t.copy = Some(qunfa_core::callback::recall_ctx(&m));
        }
        let bits = match m.audience_hash {
            Some(hash) => {
                self.audiences
                    .by_hash(self.store.as_ref(), app, hash)
                    .await?
            }
            None => None,
        };
        self.commit_recall(app, r.msgid, t, bits.map(Target::Audience))
            .await
    }

    /// A client recalls its own message (gateway `recallMsg`): a point-to-point or team
    /// message it sent, inside the window. Anything else is 404.
    pub async fn recall_own(&self, app: AppId, from: &Accid, msgid: MsgId) -> Result<(), ApiError> {
        let not_found = || ApiError::new(Code::NotFound, format!("msgid {msgid} not found"));
        let m = self
            .store
            .message(app, msgid)
            .await?
            .filter(|m| &m.from == from && !m.deleted)
            .ok_or_else(not_found)?;
        let body = serde_json::json!({"msg": ""}).to_string();
        match (m.kind, m.tid, &m.to) {
            (MsgKind::P2p, _, Some(to)) => {
                self.recall_p2p(
                    app,
                    P2pRecall {
                        msgid,
                        from: from.clone(),
                        to: to.clone(),
                        ignore_time: false,
                        body,
                        extra: None,
                    },
                )
                .await
            }
            (MsgKind::Team, Some(tid), _) if m.msg_type != 5 => {
                self.recall_team(
                    app,
                    TeamRecall {
                        msgid,
                        from: from.clone(),
                        tid,
                        ignore_time: false,
                        body,
                        extra: None,
                    },
                )
                .await
            }
            _ => Err(not_found()),
        }
    }

    /// `history/queryTeamMsg`: the team's messages and notifications `accid` saw, inside its
    /// membership periods.
    pub async fn team_msgs(&self, app: AppId, q: TeamHistory) -> Result<Vec<Message>, ApiError> {
        let o = self.registered(app, &q.accid).await?;
        if self.shared() {
            self.follow(app).await?;
        }
        let slot = self
            .teams
            .get(app, q.tid)
            .await?
            .ok_or_else(|| team_not_found(q.tid))?;
        let periods = self.store.periods(app, q.tid, o).await?;
        if q.check_valid {
            let st = slot.read();
            if st.team.dismissed {
                return Err(team_not_found(q.tid));
            }
            if st.member(o).is_none() {
                return Err(not_in_team(&q.accid, q.tid));
            }
        } else if periods.is_empty() {
            return Err(ApiError::new(
                Code::NotInTeam,
                format!("{} was never in team {}", q.accid, q.tid),
            ));
        }
        Ok(self
            .store
            .team_messages(
                app,
                TeamMsgQuery {
                    tid: q.tid,
                    periods,
                    begin_ms: q.begin_ms,
                    end_ms: q.end_ms,
                    limit: q.limit,
                    ascending: q.ascending,
                    types: q.types,
                    exclude_msgid: q.exclude_msgid,
                },
            )
            .await?)
    }
}

pub(crate) fn reads_off() -> ApiError {
    ApiError::new(Code::TeamReadsOff, "team read receipts are disabled")
}
