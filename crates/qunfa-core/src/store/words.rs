use async_trait::async_trait;

use super::StoreResult;
use crate::ids::AppId;

/// The app's own keyword list for the filter.
#[async_trait]
pub trait WordStore: Send + Sync + 'static {
    /// Replaces the list.
    async fn set_words(&self, app: AppId, words: Vec<String>) -> StoreResult<()>;
    async fn words(&self, app: AppId) -> StoreResult<Vec<String>>;
}
