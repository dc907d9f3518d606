use async_trait::async_trait;

use super::StoreResult;
use crate::ids::{AppId, MsgId, Ordinal};

/// Delivery and read tracking, kept compactly: one cursor per account (everything up to it
/// arrived), one bitmap of reader ordinals per message. Never a row per recipient per message.
#[async_trait]
pub trait DeliveryStore: Send + Sync + 'static {
    /// Raises accounts' delivery cursors (a lower value than the stored one is ignored).
    async fn save_cursors(&self, app: AppId, cursors: Vec<(Ordinal, MsgId)>) -> StoreResult<()>;
    /// The ordinals whose cursor is at least `msgid`: everyone who has it.
    async fn delivered(&self, app: AppId, msgid: MsgId) -> StoreResult<Vec<Ordinal>>;
    /// Adds readers (an encoded bitmap of ordinals) to messages' readers.
    async fn add_reads(&self, app: AppId, reads: Vec<(MsgId, Vec<u8>)>) -> StoreResult<()>;
    /// The encoded bitmap of a message's readers, if anyone read it.
    async fn readers(&self, app: AppId, msgid: MsgId) -> StoreResult<Option<Vec<u8>>>;
    /// Every account whose cursor is at least `msgid`, with that cursor, in no set order: what
    /// summaries over many messages read once instead of [`DeliveryStore::delivered`] for each.
    async fn cursors_from(&self, app: AppId, msgid: MsgId) -> StoreResult<Vec<(Ordinal, MsgId)>>;
}
