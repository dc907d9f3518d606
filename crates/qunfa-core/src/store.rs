//! The storage port. Backends (SQLite, PostgreSQL) implement [`Store`] and pass one shared
//! conformance suite; the rules that need a consistent read (does this area exist, is it still
//! used) are checked inside the backend's write transaction and reported as [`StoreError`]s.

use async_trait::async_trait;

use crate::account::{Accid, Account, AccountPatch, NewAccount};
use crate::auth::App;
use crate::dict::{Area, Enterptype};
use crate::message::{BroadcastFilter, Message, NewMessage, Sent};
use crate::{ApiError, Code};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("already register")]
    AlreadyRegistered,
    #[error("{0} not register")]
    NotRegistered(String),
    #[error("unknown areaid: {0}")]
    UnknownArea(String),
    #[error("unknown enterptypeid: {0}")]
    UnknownEnterptype(String),
    #[error("unknown parentid: {0}")]
    UnknownParent(String),
    #[error("{0} already exists")]
    AlreadyExists(String),
    #[error("{0} not found")]
    NotFound(String),
    /// Deleting something still referenced; the text names what uses it.
    #[error("{0}")]
    InUse(String),
    #[error("parentid {0} would make a cycle")]
    Cycle(String),
    #[error("storage failure: {0}")]
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        let code = match &e {
            StoreError::AlreadyRegistered
            | StoreError::NotRegistered(_)
            | StoreError::UnknownArea(_)
            | StoreError::UnknownEnterptype(_)
            | StoreError::UnknownParent(_)
            | StoreError::AlreadyExists(_)
            | StoreError::Cycle(_) => Code::BadParam,
            StoreError::NotFound(_) => Code::NotFound,
            StoreError::InUse(_) => Code::Conflict,
            StoreError::Internal(detail) => return ApiError::internal(detail.clone()),
        };
        ApiError::new(code, e.to_string())
    }
}

/// An account's fields the audience index needs (rebuilt from this at start).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    pub ordinal: u32,
    pub accid: String,
    pub areaid: Option<String>,
    pub enterptypeid: Option<String>,
    pub blocked: bool,
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Called with what a message write stored, once it committed, in commit order (so in msgid
/// order across all writes of the app): live delivery hangs here so clients never see a
/// later msgid before an earlier one.
pub type OnCommit = Box<dyn FnOnce(&[Sent]) + Send>;

/// `history/querySessionMsg`: point-to-point messages between two accounts, both ways.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionQuery {
    pub a: String,
    pub b: String,
    /// Inclusive time range, ms.
    pub begin_ms: i64,
    pub end_ms: i64,
    pub limit: usize,
    pub ascending: bool,
    /// Only these types (empty: all).
    pub types: Vec<u16>,
    pub exclude_msgid: Option<i64>,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    // --- apps -------------------------------------------------------------------------
    /// Creates an app with fresh random credentials.
    async fn create_app(&self, name: &str) -> StoreResult<App>;
    async fn list_apps(&self) -> StoreResult<Vec<App>>;
    async fn app_by_key(&self, appkey: &str) -> StoreResult<Option<App>>;
    /// Enables or disables an app; `NotFound` for an unknown key.
    async fn set_app_disabled(&self, appkey: &str, disabled: bool) -> StoreResult<App>;

    // --- accounts ---------------------------------------------------------------------
    /// Creates accounts in one transaction; each gets its own result, in order. An account
    /// fails alone (duplicate accid, unknown areaid) without failing the others. `Ok` carries
    /// the new ordinal.
    async fn create_accounts(
        &self,
        app: i64,
        accounts: Vec<NewAccount>,
    ) -> StoreResult<Vec<StoreResult<u32>>>;
    /// `NotRegistered` for an unknown accid.
    async fn update_account(&self, app: i64, accid: &Accid, patch: AccountPatch)
    -> StoreResult<()>;
    /// The accounts that exist among `accids`, in the order asked.
    async fn get_accounts(&self, app: i64, accids: &[Accid]) -> StoreResult<Vec<Account>>;
    /// The stored token hash, for logins.
    async fn token_hash(&self, app: i64, accid: &Accid) -> StoreResult<Option<[u8; 32]>>;
    /// Every account of the app in ordinal order, for the audience index.
    async fn index_entries(&self, app: i64) -> StoreResult<Vec<IndexEntry>>;

    // --- dictionaries -----------------------------------------------------------------
    async fn create_area(&self, app: i64, area: Area) -> StoreResult<()>;
    /// Changes the name and/or parent (`Some(None)` makes it a root).
    async fn update_area(
        &self,
        app: i64,
        areaid: &str,
        name: Option<String>,
        parentid: Option<Option<String>>,
    ) -> StoreResult<()>;
    /// `InUse` while an account or a child area refers to it.
    async fn delete_area(&self, app: i64, areaid: &str) -> StoreResult<()>;
    async fn list_areas(&self, app: i64) -> StoreResult<Vec<Area>>;

    async fn create_enterptype(&self, app: i64, t: Enterptype) -> StoreResult<()>;
    async fn update_enterptype(&self, app: i64, id: &str, name: String) -> StoreResult<()>;
    async fn delete_enterptype(&self, app: i64, id: &str) -> StoreResult<()>;
    async fn list_enterptypes(&self, app: i64) -> StoreResult<Vec<Enterptype>>;

    // --- messages ---------------------------------------------------------------------
    /// Stores messages in one transaction, giving each the app's next msgid in commit order.
    /// A mass message whose `msgidclient` was already used by a mass message sent at or after
    /// `dedupe_since_ms` is not stored: its `Sent` is the earlier one's, with `duplicate`.
    async fn store_messages(
        &self,
        app: i64,
        msgs: Vec<NewMessage>,
        now_ms: i64,
        dedupe_since_ms: i64,
        on_commit: OnCommit,
    ) -> StoreResult<Vec<Sent>>;
    async fn message(&self, app: i64, msgid: i64) -> StoreResult<Option<Message>>;
    /// The newest point-to-point message with this client id.
    async fn message_by_client(&self, app: i64, msgidclient: &str) -> StoreResult<Option<Message>>;
    /// The encoded audience bitmap of a mass or broadcast message.
    async fn message_audience(&self, app: i64, msgid: i64) -> StoreResult<Option<Vec<u8>>>;
    /// Marks `msgid` recalled and stores `tombstone` (kind Recall) in the same transaction.
    async fn recall_message(
        &self,
        app: i64,
        msgid: i64,
        tombstone: NewMessage,
        now_ms: i64,
        on_commit: OnCommit,
    ) -> StoreResult<Sent>;
    async fn session_messages(&self, app: i64, q: SessionQuery) -> StoreResult<Vec<Message>>;
    /// What the account `ordinal` has received after msgid `after`, in msgid order: its
    /// point-to-point messages, the mass and live broadcast messages whose audience holds it,
    /// and recall tombstones for those. Recalled, intercepted and deleted messages are left out.
    async fn user_messages(
        &self,
        app: i64,
        ordinal: u32,
        after: i64,
        limit: usize,
        now_ms: i64,
    ) -> StoreResult<Vec<Message>>;
    /// Mass messages with msgid below `before` (all when `None`), newest first.
    async fn mass_messages(
        &self,
        app: i64,
        before: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Message>>;
    /// Broadcasts with id at most `start` (0: from the newest), newest first.
    async fn broadcasts(
        &self,
        app: i64,
        start: i64,
        limit: usize,
        filter: BroadcastFilter,
    ) -> StoreResult<Vec<Message>>;
    /// Deletes a broadcast; `false` when there is none with that id.
    async fn delete_broadcast(&self, app: i64, id: i64) -> StoreResult<bool>;

    // --- delivery and reads -----------------------------------------------------------
    /// Raises accounts' delivery cursors (a lower value than the stored one is ignored).
    async fn save_cursors(&self, app: i64, cursors: Vec<(u32, i64)>) -> StoreResult<()>;
    /// The ordinals whose cursor is at least `msgid`: everyone who has it.
    async fn delivered(&self, app: i64, msgid: i64) -> StoreResult<Vec<u32>>;
    /// Adds readers (an encoded bitmap of ordinals) to a message's readers.
    async fn add_reads(&self, app: i64, reads: Vec<(i64, Vec<u8>)>) -> StoreResult<()>;
    /// The encoded bitmap of a message's readers, if anyone read it.
    async fn readers(&self, app: i64, msgid: i64) -> StoreResult<Option<Vec<u8>>>;
    /// The accids of these ordinals, in ordinal order (unknown ordinals are left out).
    async fn accids_of(&self, app: i64, ordinals: Vec<u32>) -> StoreResult<Vec<(u32, String)>>;

    // --- keyword filter ---------------------------------------------------------------
    async fn set_words(&self, app: i64, words: Vec<String>) -> StoreResult<()>;
    async fn words(&self, app: i64) -> StoreResult<Vec<String>>;
}
