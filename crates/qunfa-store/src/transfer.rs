//! Moving a deployment between backends (`qunfa migrate`): every stored row in a
//! backend-neutral shape, read in pages from a [`Source`] and written to a [`Sink`].
//!
//! Writes are idempotent (a row already there is left alone) and keep every id: app ids,
//! account ordinals (audience bitmaps refer to them) and msgids (clients' cursors do), so a
//! second run finds everything present and changes nothing, and clients and app backends keep
//! working against the new backend as they were.

use async_trait::async_trait;
use qunfa_core::account::{Accid, Profile};
use qunfa_core::auth::App;
use qunfa_core::callback::CallbackEvent;
use qunfa_core::dict::{Area, Enterptype};
use qunfa_core::ids::{AppId, MsgId, Ordinal};
use qunfa_core::message::Message;
use qunfa_core::store::StoreResult;
use qunfa_core::team::{Application, Invitation, Member, Team, Tid};

/// An app with its counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppRow {
    pub app: App,
    pub next_ordinal: u32,
    pub change_seq: i64,
    pub dict_seq: i64,
    pub words_seq: i64,
    /// The highest msgid stored (0: none).
    pub last_msgid: MsgId,
}

/// An account as stored, token hash and kick record included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRow {
    pub ordinal: Ordinal,
    pub accid: Accid,
    pub token_hash: [u8; 32],
    pub profile: Profile,
    pub blocked: bool,
    pub created_ms: i64,
    pub seq: i64,
    pub kick_seq: i64,
    pub kick_reason: Option<String>,
}

/// A shared audience bitmap, by content hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudienceRow {
    pub hash: [u8; 32],
    pub bits: Vec<u8>,
}

/// An app's teams as stored: rows with their change sequence, members (former ones too),
/// membership periods, pending invitations and applications, and the next tid.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TeamRows {
    pub next_tid: Option<i64>,
    /// Each team with its `seq`.
    pub teams: Vec<(Team, i64)>,
    /// Each member row with its team, `active` and `seq`.
    pub members: Vec<(Tid, Member, bool, i64)>,
    /// `(tid, ordinal, join, leave)`.
    pub periods: Vec<(Tid, Ordinal, MsgId, Option<MsgId>)>,
    pub invites: Vec<Invitation>,
    pub applies: Vec<Application>,
}

impl TeamRows {
    pub fn len(&self) -> usize {
        self.teams.len()
            + self.members.len()
            + self.periods.len()
            + self.invites.len()
            + self.applies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How many rows of each kind an app has: checked on both sides at the end of a migration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub accounts: u64,
    pub areas: u64,
    pub enterptypes: u64,
    pub words: u64,
    pub audiences: u64,
    pub messages: u64,
    pub cursors: u64,
    pub reads: u64,
    /// Team rows, member rows, periods, invitations and applications, together.
    pub team_rows: u64,
    /// Callback outbox rows (pending and dead letters).
    pub callback_events: u64,
}

/// Whether a target may take a source's data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Empty: the migration starts.
    Fresh,
    /// It already holds data migrated from this source: the migration resumes or re-checks.
    Resume,
    /// It holds other data (its own, or another source's): the migration must not touch it.
    Refused(String),
}

/// A backend read as a migration source, page by page in id order.
#[async_trait]
pub trait Source: Send + Sync {
    /// This deployment's identity, recorded in the target.
    async fn deployment_id(&self) -> StoreResult<String>;
    async fn app_rows(&self) -> StoreResult<Vec<AppRow>>;
    async fn areas(&self, app: AppId) -> StoreResult<Vec<Area>>;
    async fn enterptypes(&self, app: AppId) -> StoreResult<Vec<Enterptype>>;
    async fn words(&self, app: AppId) -> StoreResult<Vec<String>>;
    /// Accounts with ordinal above `after`, ascending.
    async fn account_rows(
        &self,
        app: AppId,
        after: Option<Ordinal>,
        limit: usize,
    ) -> StoreResult<Vec<AccountRow>>;
    /// Audiences with hash above `after`, ascending.
    async fn audience_rows(
        &self,
        app: AppId,
        after: Option<[u8; 32]>,
        limit: usize,
    ) -> StoreResult<Vec<AudienceRow>>;
    /// Messages with msgid above `after`, ascending, in every state.
    async fn message_rows(
        &self,
        app: AppId,
        after: MsgId,
        limit: usize,
    ) -> StoreResult<Vec<Message>>;
    /// Delivery cursors with ordinal above `after`, ascending.
    async fn cursor_rows(
        &self,
        app: AppId,
        after: Option<Ordinal>,
        limit: usize,
    ) -> StoreResult<Vec<(Ordinal, MsgId)>>;
    /// Reader bitmaps with msgid above `after`, ascending.
    async fn read_rows(
        &self,
        app: AppId,
        after: MsgId,
        limit: usize,
    ) -> StoreResult<Vec<(MsgId, Vec<u8>)>>;
    /// Every team row of the app.
    async fn team_rows(&self, app: AppId) -> StoreResult<TeamRows>;
    /// Callback outbox rows with id above `after`, ascending (without their messages).
    async fn callback_rows(
        &self,
        app: AppId,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<CallbackEvent>>;
    async fn counts(&self, app: AppId) -> StoreResult<Counts>;
}

/// A backend written as a migration target. Every `put` leaves rows already there alone.
#[async_trait]
pub trait Sink: Send + Sync {
    /// Checks the target against the source `source_id` and, when fresh, records it.
    async fn claim(&self, source_id: &str) -> StoreResult<Claim>;
    /// The app with the source's id and credentials.
    async fn put_app(&self, row: &AppRow) -> StoreResult<()>;
    /// Areas (any order: parents are resolved by the sink), types and the keyword list.
    async fn put_dictionaries(
        &self,
        app: AppId,
        areas: &[Area],
        types: &[Enterptype],
        words: &[String],
    ) -> StoreResult<()>;
    async fn put_accounts(&self, app: AppId, rows: &[AccountRow]) -> StoreResult<()>;
    async fn put_audiences(&self, app: AppId, rows: &[AudienceRow]) -> StoreResult<()>;
    async fn put_messages(&self, app: AppId, rows: &[Message]) -> StoreResult<()>;
    async fn put_cursors(&self, app: AppId, rows: &[(Ordinal, MsgId)]) -> StoreResult<()>;
    async fn put_reads(&self, app: AppId, rows: &[(MsgId, Vec<u8>)]) -> StoreResult<()>;
    /// The app's teams (and its next tid, raised to at least the source's).
    async fn put_teams(&self, app: AppId, rows: &TeamRows) -> StoreResult<()>;
    /// Callback outbox rows with their ids, attempts and dead-letter state.
    async fn put_callbacks(&self, app: AppId, rows: &[CallbackEvent]) -> StoreResult<()>;
    /// Sets the app's counters (next ordinal, change sequences, next msgid) to at least the
    /// source's, once its rows are in.
    async fn finish_app(&self, row: &AppRow) -> StoreResult<()>;
    async fn counts(&self, app: AppId) -> StoreResult<Counts>;
}
