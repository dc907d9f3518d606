//! The area tree and the enterprise types. Every write bumps the app's change sequence and
//! records it as the dictionaries' version, so other nodes know to re-read them.

use async_trait::async_trait;
use qunfa_core::dict::{Area, Enterptype, check_reparent};
use qunfa_core::ids::AppId;
use qunfa_core::store::{DictStore, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

use super::conn::internal;
use super::{SqliteStore, exists, first_string, next_change};

fn dict_changed(c: &Connection, app: AppId) -> StoreResult<()> {
    let seq = next_change(c, app)?;
    c.execute(
        "UPDATE apps SET dict_seq = ?2 WHERE id = ?1",
        params![app.0, seq],
    )
    .map_err(internal)?;
    Ok(())
}

const AREA_EXISTS: &str = "SELECT 1 FROM areas WHERE app_id = ?1 AND areaid = ?2";
const TYPE_EXISTS: &str = "SELECT 1 FROM enterptypes WHERE app_id = ?1 AND enterptypeid = ?2";

fn parent_of(c: &Connection, app: AppId, id: &str) -> StoreResult<Option<Option<String>>> {
    let mut st = c
        .prepare_cached("SELECT parentid FROM areas WHERE app_id = ?1 AND areaid = ?2")
        .map_err(internal)?;
    st.query_row(params![app.0, id], |r| r.get(0))
        .optional()
        .map_err(internal)
}

fn update_area(
    c: &Connection,
    app: AppId,
    areaid: &str,
    name: Option<String>,
    parentid: Option<Option<String>>,
) -> StoreResult<()> {
    if !exists(c, AREA_EXISTS, app, areaid)? {
        return Err(StoreError::NotFound(format!("areaid {areaid}")));
    }
    if let Some(Some(parent)) = &parentid {
        check_reparent(areaid, parent, |id| parent_of(c, app, id))?;
    }
    if let Some(name) = name {
        c.execute(
            "UPDATE areas SET name = ?3 WHERE app_id = ?1 AND areaid = ?2",
            params![app.0, areaid, name],
        )
        .map_err(internal)?;
    }
    if let Some(parent) = parentid {
        c.execute(
            "UPDATE areas SET parentid = ?3 WHERE app_id = ?1 AND areaid = ?2",
            params![app.0, areaid, parent],
        )
        .map_err(internal)?;
    }
    dict_changed(c, app)
}

fn delete_area(c: &Connection, app: AppId, areaid: &str) -> StoreResult<()> {
    let sql = "SELECT areaid FROM areas WHERE app_id = ?1 AND parentid = ?2 LIMIT 1";
    if let Some(child) = first_string(c, sql, app, areaid)? {
        return Err(StoreError::InUse(format!(
            "areaid {areaid} is the parent of area {child}"
        )));
    }
    let sql = "SELECT accid FROM accounts WHERE app_id = ?1 AND areaid = ?2 LIMIT 1";
    if let Some(accid) = first_string(c, sql, app, areaid)? {
        return Err(StoreError::InUse(format!(
            "areaid {areaid} is used by account {accid}"
        )));
    }
    let n = c
        .execute(
            "DELETE FROM areas WHERE app_id = ?1 AND areaid = ?2",
            params![app.0, areaid],
        )
        .map_err(internal)?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("areaid {areaid}")));
    }
    dict_changed(c, app)
}

#[async_trait]
impl DictStore for SqliteStore {
    async fn create_area(&self, app: AppId, area: Area) -> StoreResult<()> {
        self.db
            .write(move |c| {
                if exists(c, AREA_EXISTS, app, &area.areaid)? {
                    return Err(StoreError::AlreadyExists(format!("areaid {}", area.areaid)));
                }
                if let Some(p) = &area.parentid
                    && !exists(c, AREA_EXISTS, app, p)?
                {
                    return Err(StoreError::UnknownParent(p.clone()));
                }
                c.execute(
                    "INSERT INTO areas (app_id, areaid, name, parentid) VALUES (?1, ?2, ?3, ?4)",
                    params![app.0, area.areaid, area.name, area.parentid],
                )
                .map_err(internal)?;
                dict_changed(c, app)
            })
            .await
    }

    async fn update_area(
        &self,
        app: AppId,
        areaid: &str,
        name: Option<String>,
        parentid: Option<Option<String>>,
    ) -> StoreResult<()> {
        let areaid = areaid.to_owned();
        self.db
            .write(move |c| update_area(c, app, &areaid, name, parentid))
            .await
    }

    async fn delete_area(&self, app: AppId, areaid: &str) -> StoreResult<()> {
        let areaid = areaid.to_owned();
        self.db.write(move |c| delete_area(c, app, &areaid)).await
    }

    async fn list_areas(&self, app: AppId) -> StoreResult<Vec<Area>> {
        self.db
            .read(move |c| {
                let mut st = c
                    .prepare_cached(
                        "SELECT areaid, name, parentid FROM areas WHERE app_id = ?1 ORDER BY areaid",
                    )
                    .map_err(internal)?;
                let rows = st
                    .query_map([app.0], |r| {
                        Ok(Area {
                            areaid: r.get(0)?,
                            name: r.get(1)?,
                            parentid: r.get(2)?,
                        })
                    })
                    .map_err(internal)?;
                rows.collect::<Result<_, _>>().map_err(internal)
            })
            .await
    }

    async fn create_enterptype(&self, app: AppId, t: Enterptype) -> StoreResult<()> {
        self.db
            .write(move |c| {
                if exists(c, TYPE_EXISTS, app, &t.enterptypeid)? {
                    return Err(StoreError::AlreadyExists(format!(
                        "enterptypeid {}",
                        t.enterptypeid
                    )));
                }
                c.execute(
                    "INSERT INTO enterptypes (app_id, enterptypeid, name) VALUES (?1, ?2, ?3)",
                    params![app.0, t.enterptypeid, t.name],
                )
                .map_err(internal)?;
                dict_changed(c, app)
            })
            .await
    }

    async fn update_enterptype(&self, app: AppId, id: &str, name: String) -> StoreResult<()> {
        let id = id.to_owned();
        self.db
            .write(move |c| {
                let n = c
                    .execute(
                        "UPDATE enterptypes SET name = ?3 WHERE app_id = ?1 AND enterptypeid = ?2",
                        params![app.0, id, name],
                    )
                    .map_err(internal)?;
                if n == 0 {
                    return Err(StoreError::NotFound(format!("enterptypeid {id}")));
                }
                dict_changed(c, app)
            })
            .await
    }

    async fn delete_enterptype(&self, app: AppId, id: &str) -> StoreResult<()> {
        let id = id.to_owned();
        self.db
            .write(move |c| {
                let sql =
                    "SELECT accid FROM accounts WHERE app_id = ?1 AND enterptypeid = ?2 LIMIT 1";
                if let Some(accid) = first_string(c, sql, app, &id)? {
                    return Err(StoreError::InUse(format!(
                        "enterptypeid {id} is used by account {accid}"
                    )));
                }
                let n = c
                    .execute(
                        "DELETE FROM enterptypes WHERE app_id = ?1 AND enterptypeid = ?2",
                        params![app.0, id],
                    )
                    .map_err(internal)?;
                if n == 0 {
                    return Err(StoreError::NotFound(format!("enterptypeid {id}")));
                }
                dict_changed(c, app)
            })
            .await
    }

    async fn list_enterptypes(&self, app: AppId) -> StoreResult<Vec<Enterptype>> {
        self.db
            .read(move |c| {
                let mut st = c
                    .prepare_cached(
                        "SELECT enterptypeid, name FROM enterptypes WHERE app_id = ?1 ORDER BY enterptypeid",
                    )
                    .map_err(internal)?;
                let rows = st
                    .query_map([app.0], |r| {
                        Ok(Enterptype {
                            enterptypeid: r.get(0)?,
                            name: r.get(1)?,
                        })
                    })
                    .map_err(internal)?;
                rows.collect::<Result<_, _>>().map_err(internal)
            })
            .await
    }
}
