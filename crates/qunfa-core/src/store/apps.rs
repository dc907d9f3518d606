use async_trait::async_trait;

use super::StoreResult;
use crate::auth::App;
use crate::ids::{AppId, MsgId};

/// Where an app stands in the store: what a node polls to learn what it missed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppHead {
    pub app: AppId,
    /// The highest msgid readers can see (0: none yet).
    pub last_msgid: MsgId,
    /// Bumped by every account, dictionary and keyword-list write, in commit order.
    pub change_seq: i64,
    /// `change_seq` of the last dictionary write.
    pub dict_seq: i64,
    /// `change_seq` of the last keyword-list write.
    pub words_seq: i64,
}

#[async_trait]
pub trait AppStore: Send + Sync + 'static {
    /// Creates an app with fresh random credentials.
    async fn create_app(&self, name: &str) -> StoreResult<App>;
    /// Creates an app only if the store has none (answers it then); atomic, so nodes starting
    /// together on a fresh store bootstrap exactly one.
    async fn bootstrap_app(&self, name: &str) -> StoreResult<Option<App>>;
    async fn list_apps(&self) -> StoreResult<Vec<App>>;
    async fn app_by_key(&self, appkey: &str) -> StoreResult<Option<App>>;
    /// Enables or disables an app; `NotFound` for an unknown key.
    async fn set_app_disabled(&self, appkey: &str, disabled: bool) -> StoreResult<App>;
    /// Every app's head.
    async fn heads(&self) -> StoreResult<Vec<AppHead>>;
    /// One app's head.
    async fn head(&self, app: AppId) -> StoreResult<AppHead>;
}
