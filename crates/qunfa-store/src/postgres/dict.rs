//! The area tree and the enterprise types. Every write takes the app row's lock first (it
//! bumps `change_seq` and records it as `dict_seq`), so two re-parentings of one app run one
//! after the other and cannot build a cycle between them; a refused write rolls back.

use std::collections::HashMap;

use async_trait::async_trait;
use deadpool_postgres::Transaction;
use qunfa_core::dict::{Area, Enterptype, check_reparent};
use qunfa_core::ids::AppId;
use qunfa_core::store::{DictStore, StoreError, StoreResult};

use super::{PgStore, next_change, pg};

async fn dict_changed(tx: &Transaction<'_>, app: AppId) -> StoreResult<()> {
    let seq = next_change(tx, app).await?;
    tx.execute(
        "UPDATE apps SET dict_seq = $2 WHERE id = $1",
        &[&app.0, &seq],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

async fn exists(tx: &Transaction<'_>, sql: &str, app: AppId, key: &str) -> StoreResult<bool> {
    let st = tx.prepare_cached(sql).await.map_err(pg)?;
    Ok(tx
        .query_opt(&st, &[&app.0, &key])
        .await
        .map_err(pg)?
        .is_some())
}

async fn first_string(
    tx: &Transaction<'_>,
    sql: &str,
    app: AppId,
    key: &str,
) -> StoreResult<Option<String>> {
    let st = tx.prepare_cached(sql).await.map_err(pg)?;
    let row = tx.query_opt(&st, &[&app.0, &key]).await.map_err(pg)?;
    Ok(row.map(|r| r.get(0)))
}

const AREA_EXISTS: &str = "SELECT 1 FROM areas WHERE app_id = $1 AND areaid = $2";
const TYPE_EXISTS: &str = "SELECT 1 FROM enterptypes WHERE app_id = $1 AND enterptypeid = $2";

async fn update_area(
    tx: &Transaction<'_>,
    app: AppId,
    areaid: &str,
    name: Option<String>,
    parentid: Option<Option<String>>,
) -> StoreResult<()> {
    // First: the app row's lock, under which the tree cannot change.
    dict_changed(tx, app).await?;
    if !exists(tx, AREA_EXISTS, app, areaid).await? {
        return Err(StoreError::NotFound(format!("areaid {areaid}")));
    }
    if let Some(Some(parent)) = &parentid {
        let rows = tx
            .query(
                "SELECT areaid, parentid FROM areas WHERE app_id = $1",
                &[&app.0],
            )
            .await
            .map_err(pg)?;
        let tree: HashMap<String, Option<String>> =
            rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        check_reparent(areaid, parent, |id| Ok(tree.get(id).cloned()))?;
    }
    if let Some(name) = name {
        tx.execute(
            "UPDATE areas SET name = $3 WHERE app_id = $1 AND areaid = $2",
            &[&app.0, &areaid, &name],
        )
        .await
        .map_err(pg)?;
    }
    if let Some(parent) = parentid {
        tx.execute(
            "UPDATE areas SET parentid = $3 WHERE app_id = $1 AND areaid = $2",
            &[&app.0, &areaid, &parent],
        )
        .await
        .map_err(pg)?;
    }
    Ok(())
}

async fn delete_area(tx: &Transaction<'_>, app: AppId, areaid: &str) -> StoreResult<()> {
    dict_changed(tx, app).await?;
    let sql =
        "SELECT areaid FROM areas WHERE app_id = $1 AND parentid = $2 ORDER BY areaid LIMIT 1";
    if let Some(child) = first_string(tx, sql, app, areaid).await? {
        return Err(StoreError::InUse(format!(
            "areaid {areaid} is the parent of area {child}"
        )));
    }
    let sql =
        "SELECT accid FROM accounts WHERE app_id = $1 AND areaid = $2 ORDER BY ordinal LIMIT 1";
    if let Some(accid) = first_string(tx, sql, app, areaid).await? {
        return Err(StoreError::InUse(format!(
            "areaid {areaid} is used by account {accid}"
        )));
    }
    let n = tx
        .execute(
            "DELETE FROM areas WHERE app_id = $1 AND areaid = $2",
            &[&app.0, &areaid],
        )
        .await
        .map_err(pg)?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("areaid {areaid}")));
    }
    Ok(())
}

async fn create_area(tx: &Transaction<'_>, app: AppId, area: &Area) -> StoreResult<()> {
    dict_changed(tx, app).await?;
    if exists(tx, AREA_EXISTS, app, &area.areaid).await? {
        return Err(StoreError::AlreadyExists(format!("areaid {}", area.areaid)));
    }
    if let Some(p) = &area.parentid
        && !exists(tx, AREA_EXISTS, app, p).await?
    {
        return Err(StoreError::UnknownParent(p.clone()));
    }
    tx.execute(
        "INSERT INTO areas (app_id, areaid, name, parentid) VALUES ($1, $2, $3, $4)",
        &[&app.0, &area.areaid, &area.name, &area.parentid],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

async fn create_enterptype(tx: &Transaction<'_>, app: AppId, t: &Enterptype) -> StoreResult<()> {
    dict_changed(tx, app).await?;
    if exists(tx, TYPE_EXISTS, app, &t.enterptypeid).await? {
        return Err(StoreError::AlreadyExists(format!(
            "enterptypeid {}",
            t.enterptypeid
        )));
    }
    tx.execute(
        "INSERT INTO enterptypes (app_id, enterptypeid, name) VALUES ($1, $2, $3)",
        &[&app.0, &t.enterptypeid, &t.name],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

async fn update_enterptype(
    tx: &Transaction<'_>,
    app: AppId,
    id: &str,
    name: &str,
) -> StoreResult<()> {
    dict_changed(tx, app).await?;
    let n = tx
        .execute(
            "UPDATE enterptypes SET name = $3 WHERE app_id = $1 AND enterptypeid = $2",
            &[&app.0, &id, &name],
        )
        .await
        .map_err(pg)?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("enterptypeid {id}")));
    }
    Ok(())
}

async fn delete_enterptype(tx: &Transaction<'_>, app: AppId, id: &str) -> StoreResult<()> {
    dict_changed(tx, app).await?;
    let sql = "SELECT accid FROM accounts WHERE app_id = $1 AND enterptypeid = $2 ORDER BY ordinal LIMIT 1";
    if let Some(accid) = first_string(tx, sql, app, id).await? {
        return Err(StoreError::InUse(format!(
            "enterptypeid {id} is used by account {accid}"
        )));
    }
    let n = tx
        .execute(
            "DELETE FROM enterptypes WHERE app_id = $1 AND enterptypeid = $2",
            &[&app.0, &id],
        )
        .await
        .map_err(pg)?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("enterptypeid {id}")));
    }
    Ok(())
}

/// Runs one dictionary write in its own transaction; an `Err` rolls it back whole.
macro_rules! in_tx {
    ($self:ident, |$tx:ident| $body:expr) => {{
        let mut c = $self.client().await?;
        let $tx = c.transaction().await.map_err(pg)?;
        $body?;
        $tx.commit().await.map_err(pg)
    }};
}

#[async_trait]
impl DictStore for PgStore {
    async fn create_area(&self, app: AppId, area: Area) -> StoreResult<()> {
        in_tx!(self, |tx| create_area(&tx, app, &area).await)
    }

    async fn update_area(
        &self,
        app: AppId,
        areaid: &str,
        name: Option<String>,
        parentid: Option<Option<String>>,
    ) -> StoreResult<()> {
        in_tx!(self, |tx| update_area(&tx, app, areaid, name, parentid)
            .await)
    }

    async fn delete_area(&self, app: AppId, areaid: &str) -> StoreResult<()> {
        in_tx!(self, |tx| delete_area(&tx, app, areaid).await)
    }

    async fn list_areas(&self, app: AppId) -> StoreResult<Vec<Area>> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(
                "SELECT areaid, name, parentid FROM areas WHERE app_id = $1 ORDER BY areaid",
            )
            .await
            .map_err(pg)?;
        let rows = c.query(&st, &[&app.0]).await.map_err(pg)?;
        Ok(rows
            .iter()
            .map(|r| Area {
                areaid: r.get(0),
                name: r.get(1),
                parentid: r.get(2),
            })
            .collect())
    }

    async fn create_enterptype(&self, app: AppId, t: Enterptype) -> StoreResult<()> {
        in_tx!(self, |tx| create_enterptype(&tx, app, &t).await)
    }

    async fn update_enterptype(&self, app: AppId, id: &str, name: String) -> StoreResult<()> {
        in_tx!(self, |tx| update_enterptype(&tx, app, id, &name).await)
    }

    async fn delete_enterptype(&self, app: AppId, id: &str) -> StoreResult<()> {
        in_tx!(self, |tx| delete_enterptype(&tx, app, id).await)
    }

    async fn list_enterptypes(&self, app: AppId) -> StoreResult<Vec<Enterptype>> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(
                "SELECT enterptypeid, name FROM enterptypes WHERE app_id = $1 ORDER BY enterptypeid",
            )
            .await
            .map_err(pg)?;
        let rows = c.query(&st, &[&app.0]).await.map_err(pg)?;
        Ok(rows
            .iter()
            .map(|r| Enterptype {
                enterptypeid: r.get(0),
                name: r.get(1),
            })
            .collect())
    }
}
