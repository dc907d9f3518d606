//! Apps (tenants) and their heads. An app's `last_msgid` is its committed `msg_seqs` counter
//! minus one: see `writer.rs` for why no reader can see past a msgid that commits later.

use async_trait::async_trait;
use qunfa_core::auth::App;
use qunfa_core::callback::{AppCallbacks, Events};
use qunfa_core::ids::{AppId, MsgId};
use qunfa_core::store::{AppHead, AppStore, StoreError, StoreResult};
use tokio_postgres::Row;

use super::{PgStore, now_ms, pg};

pub(crate) const APP_COLS: &str =
    "id, appkey, secret, name, disabled, created_ms, callback_url, callback_events, pre_send_url";

pub(crate) fn app_from_row(r: &Row) -> App {
    App {
        id: AppId(r.get(0)),
        appkey: r.get(1),
        secret: r.get(2),
        name: r.get(3),
        disabled: r.get(4),
        created_ms: r.get(5),
        callbacks: callbacks(r.get(6), &r.get::<_, String>(7), r.get(8)),
    }
}

async fn insert_app(tx: &deadpool_postgres::Transaction<'_>, name: &str) -> StoreResult<App> {
    let appkey = qunfa_core::random_hex(16);
    let secret = qunfa_core::random_hex(16);
    let created_ms = now_ms();
    let row = tx
        .query_one(
            "INSERT INTO apps (appkey, secret, name, created_ms) VALUES ($1, $2, $3, $4) RETURNING id",
            &[&appkey, &secret, &name, &created_ms],
        )
        .await
        .map_err(pg)?;
    let id: i64 = row.get(0);
    tx.execute("INSERT INTO msg_seqs (app_id) VALUES ($1)", &[&id])
        .await
        .map_err(pg)?;
    Ok(App {
        id: AppId(id),
        appkey,
        secret,
        name: name.to_owned(),
        disabled: false,
        created_ms,
        callbacks: Default::default(),
    })
}

/// An app's callback settings from its columns (an unreadable event list: every kind).
fn callbacks(url: String, events: &str, pre_send_url: String) -> AppCallbacks {
    AppCallbacks {
        url,
        events: Events::parse(events, "callback_events").unwrap_or_default(),
        pre_send_url,
    }
}

const HEAD_SQL: &str = "SELECT a.id, coalesce(s.next_msgid, 1) - 1, a.change_seq, a.dict_seq, a.words_seq \
                        FROM apps a LEFT JOIN msg_seqs s ON s.app_id = a.id";

fn head_from_row(r: &Row) -> AppHead {
    AppHead {
        app: AppId(r.get(0)),
        last_msgid: MsgId(r.get(1)),
        change_seq: r.get(2),
        dict_seq: r.get(3),
        words_seq: r.get(4),
    }
}

#[async_trait]
impl AppStore for PgStore {
    async fn create_app(&self, name: &str) -> StoreResult<App> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        let app = insert_app(&tx, name).await?;
        tx.commit().await.map_err(pg)?;
        Ok(app)
    }

    async fn bootstrap_app(&self, name: &str) -> StoreResult<Option<App>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg)?;
        // Nodes starting together on a fresh database: the lock makes the check and the
        // insert one step, so exactly one of them creates the app.
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('qunfa bootstrap ' || current_schema(), 0))",
            &[],
        )
        .await
        .map_err(pg)?;
        let any: bool = tx
            .query_one("SELECT EXISTS (SELECT 1 FROM apps)", &[])
            .await
            .map_err(pg)?
            .get(0);
        if any {
            return Ok(None);
        }
        let app = insert_app(&tx, name).await?;
        tx.commit().await.map_err(pg)?;
        Ok(Some(app))
    }

    async fn list_apps(&self) -> StoreResult<Vec<App>> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(&format!("SELECT {APP_COLS} FROM apps ORDER BY id"))
            .await
            .map_err(pg)?;
        let rows = c.query(&st, &[]).await.map_err(pg)?;
        Ok(rows.iter().map(app_from_row).collect())
    }

    async fn app_by_key(&self, appkey: &str) -> StoreResult<Option<App>> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(&format!("SELECT {APP_COLS} FROM apps WHERE appkey = $1"))
            .await
            .map_err(pg)?;
        let row = c.query_opt(&st, &[&appkey]).await.map_err(pg)?;
        Ok(row.as_ref().map(app_from_row))
    }

    async fn set_app_disabled(&self, appkey: &str, disabled: bool) -> StoreResult<App> {
        let c = self.client().await?;
        let row = c
            .query_opt(
                &format!("UPDATE apps SET disabled = $1 WHERE appkey = $2 RETURNING {APP_COLS}"),
                &[&disabled, &appkey],
            )
            .await
            .map_err(pg)?;
        row.as_ref()
            .map(app_from_row)
            .ok_or_else(|| StoreError::NotFound(format!("app {appkey}")))
    }

    async fn heads(&self) -> StoreResult<Vec<AppHead>> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(&format!("{HEAD_SQL} ORDER BY a.id"))
            .await
            .map_err(pg)?;
        let rows = c.query(&st, &[]).await.map_err(pg)?;
        Ok(rows.iter().map(head_from_row).collect())
    }

    async fn head(&self, app: AppId) -> StoreResult<AppHead> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(&format!("{HEAD_SQL} WHERE a.id = $1"))
            .await
            .map_err(pg)?;
        let row = c.query_opt(&st, &[&app.0]).await.map_err(pg)?;
        row.as_ref()
            .map(head_from_row)
            .ok_or_else(|| StoreError::NotFound(format!("app {app}")))
    }
}
