//! The dictionaries (`dic/*`): the area tree and the enterprise types. Writes go to the store,
//! then this node's audience index catches up, then the other nodes are told.

use qunfa_core::ApiError;
use qunfa_core::dict::{Area, Enterptype};
use qunfa_core::ids::AppId;

use crate::Services;

impl Services {
    pub async fn create_area(&self, app: AppId, area: Area) -> Result<(), ApiError> {
        self.store.create_area(app, area).await?;
        self.changed(app).await?;
        Ok(())
    }

    /// Renames and/or moves an area (`Some(None)`: to the root). Its accounts move with it.
    pub async fn update_area(
        &self,
        app: AppId,
        areaid: &str,
        name: Option<String>,
        parentid: Option<Option<String>>,
    ) -> Result<(), ApiError> {
        if name.is_none() && parentid.is_none() {
            return Err(ApiError::param("nothing to update: give name or parentid"));
        }
        self.store.update_area(app, areaid, name, parentid).await?;
        self.changed(app).await?;
        Ok(())
    }

    /// 417 while an account or a child area uses it.
    pub async fn delete_area(&self, app: AppId, areaid: &str) -> Result<(), ApiError> {
        self.store.delete_area(app, areaid).await?;
        self.changed(app).await?;
        Ok(())
    }

    pub async fn areas(&self, app: AppId) -> Result<Vec<Area>, ApiError> {
        Ok(self.store.list_areas(app).await?)
    }

    pub async fn create_enterptype(&self, app: AppId, t: Enterptype) -> Result<(), ApiError> {
        self.store.create_enterptype(app, t).await?;
        self.changed(app).await?;
        Ok(())
    }

    pub async fn update_enterptype(
        &self,
        app: AppId,
        id: &str,
        name: String,
    ) -> Result<(), ApiError> {
        self.store.update_enterptype(app, id, name).await?;
        self.changed(app).await?;
        Ok(())
    }

    /// 417 while an account has it.
    pub async fn delete_enterptype(&self, app: AppId, id: &str) -> Result<(), ApiError> {
        self.store.delete_enterptype(app, id).await?;
        self.changed(app).await?;
        Ok(())
    }

    pub async fn enterptypes(&self, app: AppId) -> Result<Vec<Enterptype>, ApiError> {
        Ok(self.store.list_enterptypes(app).await?)
    }
}
