//! Advanced teams (NIM's `team/*`) and team messages: the rules of every operation, written
//! once for the HTTP API and the gateway. One file per group of use cases:
//! `manage.rs` (create, dismiss, update), `roster.rs` (add, kick, owner and managers),
//! `members.rs` (leave, nicks, bans, listings), `pending.rs` (invitations and applications), `messages.rs` (team
//! sends, custom notifications, recalls, history), `reads.rs` (team read receipts).
//!
//! An operation reads the team as this node has it (`cache.rs`), decides, and asks the store to
//! write the change with its notification **if the team is still at the version it decided
//! on**; otherwise it catches up and decides again. So decisions are exact across nodes
//! without a lock held between the read and the write. Then this node's caches catch up
//! (`Services::changed`), then the notification goes out live.

pub mod cache;
pub mod manage;
pub mod members;
pub mod messages;
pub mod pending;
pub mod reads;
pub mod roster;

use std::sync::Arc;

use qunfa_core::account::Accid;
use qunfa_core::audience;
use qunfa_core::bus::{Event, Live, Notice, Target};
use qunfa_core::ids::{AppId, Ordinal};
use qunfa_core::message::{MsgKind, NewMessage};
use qunfa_core::store::{StoreError, TeamChange, TeamCommit, internal};
use qunfa_core::team::attach::{self, Op};
use qunfa_core::team::{Role, Tid};
use qunfa_core::{ApiError, Code};
use roaring::RoaringBitmap;
use serde_json::{Map, Value};

use crate::Services;
use crate::send::publish;
pub use cache::{TeamAudience, TeamCache, TeamSlot, TeamState};

/// The team limits that are settings (`[teams]`).
#[derive(Clone, Debug)]
pub struct TeamRules {
    /// The largest `teamMemberLimit` a team may have.
    pub max_members: u32,
    /// Teams (not dismissed) one account may own.
    pub max_owned: u64,
    /// Teams one account may be a member of.
    pub max_joined: u64,
    /// Managers one team may have.
    pub max_managers: usize,
    /// Team read receipts on (`markRead=1`, `markReadTeamMsg`, `getMarkReadInfo`).
    pub read_receipts: bool,
}

impl Default for TeamRules {
    fn default() -> Self {
        TeamRules {
            max_members: 2000,
            max_owned: 500,
            max_joined: 5000,
            max_managers: 50,
            read_receipts: true,
        }
    }
}

/// How often a decision is made again after the team changed under it.
pub(crate) const MAX_TRIES: usize = 8;

/// Runs `$body` (an async block's contents answering `Result<T, Attempt>`) until it is not
/// stale, at most `MAX_TRIES` times, catching `$svc` up with the store between tries. A macro
/// rather than a function taking an async closure: the futures stay `Send` for axum.
macro_rules! retrying {
    ($svc:expr, $app:expr, $body:block) => {{
        let mut why = String::new();
        let mut out = None;
        for _ in 0..$crate::teams::MAX_TRIES {
            let r: Result<_, $crate::teams::Attempt> = async { $body }.await;
            match r {
                Ok(v) => {
                    out = Some(Ok(v));
                    break;
                }
                Err($crate::teams::Attempt::Fail(e)) => {
                    out = Some(Err(e));
                    break;
                }
                Err($crate::teams::Attempt::Stale(w)) => {
                    why = w;
                    if let Err(e) = $svc.follow($app).await {
                        out = Some(Err(qunfa_core::ApiError::from(e)));
                        break;
                    }
                }
            }
        }
        out.unwrap_or_else(|| {
            Err(qunfa_core::ApiError::internal(format!(
                "team write stale {} times: {why}",
                $crate::teams::MAX_TRIES
            )))
        })
    }};
}
pub(crate) use retrying;

/// The outcome of one attempt at a guarded write.
pub(crate) enum Attempt {
    /// The team changed meanwhile: catch up and decide again.
    Stale(String),
    Fail(ApiError),
}

impl From<ApiError> for Attempt {
    fn from(e: ApiError) -> Self {
        Attempt::Fail(e)
    }
}

impl From<StoreError> for Attempt {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Stale(why) => Attempt::Stale(why),
            e => Attempt::Fail(e.into()),
        }
    }
}

pub(crate) fn team_not_found(tid: Tid) -> ApiError {
    ApiError::new(Code::TeamNotFound, format!("team {tid} not found"))
}

pub(crate) fn not_in_team(accid: &Accid, tid: Tid) -> ApiError {
    ApiError::new(Code::NotInTeam, format!("{accid} is not in team {tid}"))
}

pub(crate) fn no_permission(desc: impl Into<String>) -> ApiError {
    ApiError::new(Code::TeamNoPermission, desc)
}

pub(crate) fn member_state(desc: impl Into<String>) -> ApiError {
    ApiError::new(Code::TeamMemberState, desc)
}

pub(crate) fn team_full(tid: Tid, limit: u32) -> ApiError {
    ApiError::new(
        Code::TeamFull,
        format!("team {tid} is full (teamMemberLimit {limit})"),
    )
}

/// A notification to store with a change: its body, operator and audience.
pub(crate) struct Notification {
    pub op: Op,
    pub from: Accid,
    pub data: Map<String, Value>,
    pub attach: Option<String>,
    /// Who gets it: the members before the change together with those after.
    pub audience: Arc<RoaringBitmap>,
    /// Its encoding, when it is the team's current members (computed once per version).
    pub encoded: Option<Arc<TeamAudience>>,
}

impl Notification {
    /// A notification to the team's current members (an operation that adds or removes
    /// nobody, or removes: they are still in the bitmap before the change).
    pub fn to_members(
        st: &TeamState,
        op: Op,
        from: &Accid,
        data: Map<String, Value>,
        attach: Option<String>,
    ) -> Notification {
        Notification {
            op,
            from: from.clone(),
            data,
            attach,
            audience: st.bits.clone(),
            encoded: Some(st.audience()),
        }
    }

    /// A notification to the members after adding `joined`.
    pub fn with_joined(
        st: &TeamState,
        joined: &[Ordinal],
        op: Op,
        from: &Accid,
        data: Map<String, Value>,
        attach: Option<String>,
    ) -> Notification {
        let mut bits = (*st.bits).clone();
        bits.extend(joined.iter().map(|o| o.0));
        Notification {
            op,
            from: from.clone(),
            data,
            attach,
            audience: Arc::new(bits),
            encoded: None,
        }
    }

    fn message(&self, tid: Tid) -> NewMessage {
        let body = attach::notification(self.op, self.data.clone(), self.attach.as_deref());
        let mut m = NewMessage::new(MsgKind::Team, self.from.clone(), 5, body);
        let (encoded, hash) = match &self.encoded {
            Some(a) => (a.encoded.clone(), a.hash),
            None => {
                let e = audience::encode(&self.audience);
                let h = audience::digest(&e);
                (e, h)
            }
        };
        m.audience_digest = Some(hash);
        m.audience = Some(encoded);
        m.recipients = self.audience.len();
        m.tid = Some(tid);
        m
    }
}

/// A decided team operation: the change, its notification, and what to tell sessions after.
pub(crate) struct Decided {
    pub change: TeamChange,
    pub notification: Option<Notification>,
    pub notices: Vec<(Vec<Ordinal>, Notice)>,
}

impl Decided {
    /// A change with its type-5 notification and no live notices (most operations).
    pub(crate) fn notified(change: TeamChange, notification: Notification) -> Decided {
        Decided {
            change,
            notification: Some(notification),
            notices: Vec::new(),
        }
    }
}

impl Services {
    /// The team, from this node's cache; on a shared store after catching up (a read that
    /// must see every write answered so far on any node, or a refusal decided on it).
    pub(crate) async fn fresh_team(&self, app: AppId, tid: Tid) -> Result<Arc<TeamSlot>, ApiError> {
        if self.shared() {
            self.follow(app).await?;
        }
        self.team_slot(app, tid).await
    }

    /// The team as this node has it; 803 when it does not exist or was dismissed.
    pub(crate) async fn team_slot(&self, app: AppId, tid: Tid) -> Result<Arc<TeamSlot>, ApiError> {
        match self.teams.get(app, tid).await? {
            Some(slot) if !slot.read().team.dismissed => Ok(slot),
            _ => Err(team_not_found(tid)),
        }
    }

    /// Writes a decided operation with its notification, then lets this node's caches catch
    /// up, then sends the notification live and the notices. The write and the publish run on
    /// their own task: once stored, the notification goes out even if the caller went away.
    pub(crate) async fn commit_team(
        &self,
        app: AppId,
        mut d: Decided,
    ) -> Result<TeamCommit, Attempt> {
        let tid = d.change.tid;
        let target = d.notification.as_ref().map(|n| n.audience.clone());
        d.change.notification = d.notification.as_ref().map(|n| n.message(tid));
        let copied = self.stamp(app, d.change.notification.as_mut());
        let hooks = self.hooks.clone();
        let store = self.store.clone();
        let bus = self.bus.clone();
        let now = self.now_ms();
        let change = d.change;
        let task = tokio::spawn(async move {
            let note = change.notification.clone();
            let commit = store.apply_team_change(app, change, now).await?;
            if copied {
                hooks.queued(app);
            }
            if let (Some(m), Some(sent), Some(bits)) = (note, &commit.notification, target) {
                let live = Arc::new(Live {
                    message: m.stored(sent),
                    target: Target::Audience(bits),
                });
                publish(&*bus, app, vec![live]);
            }
            Ok::<_, StoreError>(commit)
        });
        let commit = task.await.map_err(internal)??;
        self.changed(app).await?;
        for (to, notice) in d.notices {
            if !to.is_empty() {
                self.bus.publish(Event::Notice { app, to, notice });
            }
        }
        Ok(commit)
    }
}

/// Whether `who` (a member with `role`) is the owner or a manager, else 802 naming `what`.
pub(crate) fn must_manage(role: Role, who: &Accid, what: &str) -> Result<(), ApiError> {
    if role.manages() {
        Ok(())
    } else {
        Err(no_permission(format!(
            "{who} may not {what}: the owner or a manager only"
        )))
    }
}

/// Whether `who` is the owner, else 802 naming `what`.
pub(crate) fn must_own(role: Role, who: &Accid, what: &str) -> Result<(), ApiError> {
    if role == Role::Owner {
        Ok(())
    } else {
        Err(no_permission(format!(
            "{who} may not {what}: the owner only"
        )))
    }
}

/// The role of `who` in the team; 804 when it is not a member.
pub(crate) fn role_of(st: &TeamState, who: Ordinal, accid: &Accid) -> Result<Role, ApiError> {
    st.role(who).ok_or_else(|| not_in_team(accid, st.team.tid))
}

/// An empty change of `st`'s team at its current version (the row as it is).
pub(crate) fn change_of(st: &TeamState, now_ms: i64) -> TeamChange {
    let mut team = st.team.clone();
    team.updated_ms = now_ms;
    TeamChange {
        tid: team.tid,
        expected_version: st.team.version,
        team,
        upsert: Vec::new(),
        joined: Vec::new(),
        left: Vec::new(),
        invite: Vec::new(),
        uninvite: Vec::new(),
        apply: Vec::new(),
        unapply: Vec::new(),
        notification: None,
        max_owned: None,
        max_joined: None,
    }
}
