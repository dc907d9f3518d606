use async_trait::async_trait;

use super::StoreResult;
use crate::auth::App;
use crate::callback::{AppCallbacks, CallbackEvent, Failed, NewEvent, Summary};
use crate::ids::AppId;

/// The callback outbox (抄送). Message and recall events are written by the message writes
/// themselves (a [`crate::message::NewMessage`] with `copy`), in the same transaction; this
/// part of the port sets an app's callbacks, adds the events that are not messages (logins),
/// and is what the deliverer and `qunfa app callbacks` use.
///
/// Outbox ids increase in commit order per app for message events (they are handed out while
/// the app's msgid sequence is held), so id order is msgid order.
#[async_trait]
pub trait CallbackStore: Send + Sync + 'static {
    /// Sets an app's callback settings; `NotFound` for an unknown key.
    async fn set_app_callbacks(&self, appkey: &str, callbacks: AppCallbacks) -> StoreResult<App>;
    /// Adds events that are not stored messages (gateway logins and logouts), in one write,
    /// due at `now_ms`.
    async fn add_callback_events(&self, events: Vec<NewEvent>, now_ms: i64) -> StoreResult<()>;
    /// Apps with a callback URL and at least one pending event due at `now_ms`.
    async fn due_callback_apps(&self, now_ms: i64) -> StoreResult<Vec<AppId>>;
    /// An app's pending events due at `now_ms`, by id, at most `limit`, each with its message.
    async fn due_callback_events(
        &self,
        app: AppId,
        now_ms: i64,
        limit: usize,
    ) -> StoreResult<Vec<CallbackEvent>>;
    /// The event was delivered: it leaves the outbox.
    async fn callback_delivered(&self, app: AppId, id: i64) -> StoreResult<()>;
    /// An attempt failed (the `attempts`-th): retry later, or keep it as a dead letter.
    async fn callback_failed(
        &self,
        app: AppId,
        id: i64,
        attempts: u32,
        outcome: Failed,
        error: &str,
    ) -> StoreResult<()>;
    async fn callback_summary(&self, app: AppId) -> StoreResult<Summary>;
    /// Every app's pending and dead events together: `(pending, dead)`.
    async fn callback_totals(&self) -> StoreResult<(u64, u64)>;
    /// Dead letters with id above `after`, by id, at most `limit`.
    async fn dead_callbacks(
        &self,
        app: AppId,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<CallbackEvent>>;
    /// Makes dead letters pending again with a fresh attempt series, due at `now_ms`: those
    /// listed, or every one when `ids` is empty. Answers how many.
    async fn resend_callbacks(&self, app: AppId, ids: Vec<i64>, now_ms: i64) -> StoreResult<u64>;
    /// Takes (or keeps) the right to deliver the app's events until `now_ms + lease_ms`; `false`
    /// while another node holds an unexpired lease.
    async fn claim_callbacks(
        &self,
        app: AppId,
        node: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> StoreResult<bool>;
    /// Gives the lease up (if `node` holds it).
    async fn release_callbacks(&self, app: AppId, node: &str) -> StoreResult<()>;
}
