use async_trait::async_trait;

use super::StoreResult;
use crate::dict::{Area, Enterptype};
use crate::ids::AppId;

#[async_trait]
pub trait DictStore: Send + Sync + 'static {
    /// `AlreadyExists`, or `UnknownParent` for a parent that is not there.
    async fn create_area(&self, app: AppId, area: Area) -> StoreResult<()>;
    /// Changes the name and/or parent (`Some(None)` makes it a root). A parent under the area
    /// itself is refused with `Cycle` ([`crate::dict::check_reparent`]).
    async fn update_area(
        &self,
        app: AppId,
        areaid: &str,
        name: Option<String>,
        parentid: Option<Option<String>>,
    ) -> StoreResult<()>;
    /// `InUse` while an account or a child area refers to it.
    async fn delete_area(&self, app: AppId, areaid: &str) -> StoreResult<()>;
    async fn list_areas(&self, app: AppId) -> StoreResult<Vec<Area>>;

    async fn create_enterptype(&self, app: AppId, t: Enterptype) -> StoreResult<()>;
    async fn update_enterptype(&self, app: AppId, id: &str, name: String) -> StoreResult<()>;
    /// `InUse` while an account has it.
    async fn delete_enterptype(&self, app: AppId, id: &str) -> StoreResult<()>;
    async fn list_enterptypes(&self, app: AppId) -> StoreResult<Vec<Enterptype>>;
}
