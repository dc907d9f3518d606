use async_trait::async_trait;

use super::StoreResult;
use crate::account::Accid;
use crate::ids::{AppId, MsgId, Ordinal};
use crate::message::{BroadcastFilter, Message, NewMessage, Sent};

/// `history/querySessionMsg`: point-to-point messages between two accounts, both ways.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionQuery {
    pub a: Accid,
    pub b: Accid,
    /// Inclusive time range, ms.
    pub begin_ms: i64,
    pub end_ms: i64,
    pub limit: usize,
    pub ascending: bool,
    /// Only these types (empty: all).
    pub types: Vec<u16>,
    pub exclude_msgid: Option<MsgId>,
}

#[async_trait]
pub trait MessageStore: Send + Sync + 'static {
    /// Stores messages in one transaction, giving each the app's next msgid. Msgids increase
    /// in commit order: once a reader sees msgid N, every lower msgid it will ever see is
    /// visible too. A mass message whose `msgidclient` was already used by a mass message sent
    /// at or after `dedupe_since_ms` is not stored: its `Sent` is the earlier one's, with
    /// `duplicate`.
    async fn store_messages(
        &self,
        app: AppId,
        msgs: Vec<NewMessage>,
        now_ms: i64,
        dedupe_since_ms: i64,
    ) -> StoreResult<Vec<Sent>>;
    async fn message(&self, app: AppId, msgid: MsgId) -> StoreResult<Option<Message>>;
    /// The newest point-to-point message with this client id.
    async fn message_by_client(
        &self,
        app: AppId,
        msgidclient: &str,
    ) -> StoreResult<Option<Message>>;
    /// The encoded audience bitmap of a mass or broadcast message (or of its recall).
    async fn message_audience(&self, app: AppId, msgid: MsgId) -> StoreResult<Option<Vec<u8>>>;
    /// An encoded audience by its content hash ([`crate::audience::digest`]).
    async fn audience(&self, app: AppId, hash: [u8; 32]) -> StoreResult<Option<Vec<u8>>>;
    /// Marks `msgid` recalled and stores `tombstone` (kind Recall) in the same transaction.
    async fn recall_message(
        &self,
        app: AppId,
        msgid: MsgId,
        tombstone: NewMessage,
        now_ms: i64,
    ) -> StoreResult<Sent>;
    async fn session_messages(&self, app: AppId, q: SessionQuery) -> StoreResult<Vec<Message>>;
    /// What the account `ordinal` has received after msgid `after`, in msgid order, at most
    /// `limit`: [`crate::inbox`] says what that is; the backend feeds it candidates.
    async fn user_messages(
        &self,
        app: AppId,
        ordinal: Ordinal,
        after: MsgId,
        limit: usize,
        now_ms: i64,
    ) -> StoreResult<Vec<Message>>;
    /// Every message with msgid in `(after, upto]`, ascending, at most `limit`, whatever its
    /// kind or state: what live delivery reads to catch up with what other nodes committed.
    async fn messages_between(
        &self,
        app: AppId,
        after: MsgId,
        upto: MsgId,
        limit: usize,
    ) -> StoreResult<Vec<Message>>;
    /// Mass messages with msgid below `before` (all when `None`), newest first.
    async fn mass_messages(
        &self,
        app: AppId,
        before: Option<MsgId>,
        limit: usize,
    ) -> StoreResult<Vec<Message>>;
    /// Broadcasts with id at most `start` (`None`: from the newest), newest first.
    async fn broadcasts(
        &self,
        app: AppId,
        start: Option<MsgId>,
        limit: usize,
        filter: BroadcastFilter,
    ) -> StoreResult<Vec<Message>>;
    /// Deletes a broadcast; `false` when there is none with that id.
    async fn delete_broadcast(&self, app: AppId, id: MsgId) -> StoreResult<bool>;
}
