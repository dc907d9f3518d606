use async_trait::async_trait;

use super::StoreResult;
use crate::account::Accid;
use crate::ids::{AppId, MsgId, Ordinal};
use crate::message::{Message, NewMessage, Sent};
use crate::team::periods::Period;
use crate::team::{Application, Invitation, Member, MemberChange, Team, Tid};

/// One team operation, decided by the service on the team as it was at `expected_version`,
/// written in one transaction with its notification (so a 200 means both are durable, and the
/// notification's msgid orders it among the team's messages).
#[derive(Clone, Debug, PartialEq)]
pub struct TeamChange {
    pub tid: Tid,
    /// The version the change was decided on; 0 for a new team (which must not exist yet).
    /// Another version in the store: `Stale`, nothing written.
    pub expected_version: i64,
    /// The team's row after the change (the store sets `version` and stamps the change
    /// sequence). `dismissed` ends every member's period and drops every pending entry.
    pub team: Team,
    /// Members that joined or whose record changed.
    pub upsert: Vec<Member>,
    /// Of `upsert`, those that joined now: a period starts at the notification's msgid - 1.
    pub joined: Vec<Ordinal>,
    /// Members that left: their period ends at the notification's msgid.
    pub left: Vec<Ordinal>,
    /// Invitations made (replacing any pending one of the same invitee) and dropped.
    pub invite: Vec<Invitation>,
    pub uninvite: Vec<Ordinal>,
    /// Applications made (replacing) and dropped.
    pub apply: Vec<Application>,
    pub unapply: Vec<Ordinal>,
    /// The type-5 notification (kind Team, `tid` set, audience given), stored in the same
    /// transaction. Required when members join or leave.
    pub notification: Option<NewMessage>,
    /// Checked in the transaction: the team's owner owns at most this many teams that are not
    /// dismissed, this one included. Over it: `Stale`.
    pub max_owned: Option<u64>,
    /// Checked in the transaction: each joining account is then a member of at most this many
    /// teams. Over it: `Stale`.
    pub max_joined: Option<u64>,
}

/// What a committed team change answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamCommit {
    /// The team's new version.
    pub version: i64,
    pub notification: Option<Sent>,
}

/// A condition of a guarded write: the team is still at this version (and not dismissed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TeamGuard {
    pub tid: Tid,
    pub version: i64,
}

/// `history/queryTeamMsg`: a team's messages and notifications an account saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamMsgQuery {
    pub tid: Tid,
    /// The account's membership periods: only messages inside one of them.
    pub periods: Vec<Period>,
    /// Inclusive time range, ms.
    pub begin_ms: i64,
    pub end_ms: i64,
    pub limit: usize,
    pub ascending: bool,
    /// Only these types (empty: all).
    pub types: Vec<u16>,
    pub exclude_msgid: Option<MsgId>,
}

/// An account's membership in one team, for `joinTeams` and `listMemberInfo`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    pub team: Team,
    pub member: Member,
    /// Members of the team, the owner included.
    pub size: u64,
}

/// Teams: rows, members (with their membership periods) and pending invitations and
/// applications. Every write bumps the app's `change_seq` and stamps what it wrote, so nodes
/// follow team writes as they follow account writes.
#[async_trait]
pub trait TeamStore: Send + Sync + 'static {
    /// A new tid for the app, never handed out before (a tid whose create failed stays unused).
    async fn reserve_tid(&self, app: AppId) -> StoreResult<Tid>;
    /// Writes one team operation; `Stale` when the team is no longer at the version it was
    /// decided on or a `max_*` condition fails.
    async fn apply_team_change(
        &self,
        app: AppId,
        change: TeamChange,
        now_ms: i64,
    ) -> StoreResult<TeamCommit>;
    /// Stores messages as `store_messages` does, in one transaction, only if every guarded
    /// team is still at its version and not dismissed (else `Stale`, nothing stored). A message
    /// with a `msgidclient` used within the window is answered by the earlier one (`duplicate`):
    /// a mass message by app-wide key, any other kind by its sender's key.
    async fn store_guarded(
        &self,
        app: AppId,
        guards: Vec<TeamGuard>,
        msgs: Vec<NewMessage>,
        now_ms: i64,
        dedupe_since_ms: i64,
    ) -> StoreResult<Vec<Sent>>;
    /// A team, dismissed or not.
    async fn team(&self, app: AppId, tid: Tid) -> StoreResult<Option<Team>>;
    /// A team's current members, in ordinal order.
    async fn team_members(&self, app: AppId, tid: Tid) -> StoreResult<Vec<Member>>;
    /// Team rows written with change sequence in `(since, upto]`, in sequence order.
    async fn team_changes(&self, app: AppId, since: i64, upto: i64) -> StoreResult<Vec<Team>>;
    /// Member rows written with change sequence in `(since, upto]`, in sequence order;
    /// `active` false for those that left.
    async fn member_changes(
        &self,
        app: AppId,
        since: i64,
        upto: i64,
    ) -> StoreResult<Vec<MemberChange>>;
    /// The teams (not dismissed) the account is a member of, in tid order.
    async fn memberships(&self, app: AppId, ordinal: Ordinal) -> StoreResult<Vec<Membership>>;
    /// How many teams that are not dismissed `owner` owns.
    async fn owned_count(&self, app: AppId, owner: &Accid) -> StoreResult<u64>;
    /// How many teams (not dismissed) each account is a member of, in the order asked.
    async fn joined_counts(&self, app: AppId, ordinals: Vec<Ordinal>) -> StoreResult<Vec<u64>>;
    /// The account's membership periods in a team, oldest first.
    async fn periods(&self, app: AppId, tid: Tid, ordinal: Ordinal) -> StoreResult<Vec<Period>>;
    /// The pending invitation of `ordinal` to `tid`.
    async fn invitation(
        &self,
        app: AppId,
        tid: Tid,
        ordinal: Ordinal,
    ) -> StoreResult<Option<Invitation>>;
    /// Every pending invitation of the account to a team that is not dismissed, oldest first.
    async fn invitations_of(&self, app: AppId, ordinal: Ordinal) -> StoreResult<Vec<Invitation>>;
    /// The pending application of `ordinal` to `tid`.
    async fn application(
        &self,
        app: AppId,
        tid: Tid,
        ordinal: Ordinal,
    ) -> StoreResult<Option<Application>>;
    /// A team's messages and notifications (kind Team, neither intercepted nor recalled) inside
    /// the query's periods and time range, by `(timetag, msgid)` in the order asked.
    async fn team_messages(&self, app: AppId, q: TeamMsgQuery) -> StoreResult<Vec<Message>>;
}
