//! Apps (tenants) and their heads.

use async_trait::async_trait;
use qunfa_core::auth::App;
use qunfa_core::callback::{AppCallbacks, Events};
use qunfa_core::ids::{AppId, MsgId};
use qunfa_core::store::{AppHead, AppStore, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

use super::conn::internal;
use super::{SqliteStore, now_ms};

pub(crate) const APP_COLS: &str =
    "id, appkey, secret, name, disabled, created_ms, callback_url, callback_events, pre_send_url";

pub(crate) fn app_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<App> {
    Ok(App {
        id: AppId(r.get(0)?),
        appkey: r.get(1)?,
        secret: r.get(2)?,
        name: r.get(3)?,
        disabled: r.get(4)?,
        created_ms: r.get(5)?,
        callbacks: callbacks(r.get(6)?, &r.get::<_, String>(7)?, r.get(8)?),
    })
}

fn insert_app(c: &Connection, name: &str) -> StoreResult<App> {
    let appkey = qunfa_core::random_hex(16);
    let secret = qunfa_core::random_hex(16);
    let created_ms = now_ms();
    c.execute(
        "INSERT INTO apps (appkey, secret, name, created_ms) VALUES (?1, ?2, ?3, ?4)",
        params![appkey, secret, name, created_ms],
    )
    .map_err(internal)?;
    Ok(App {
        id: AppId(c.last_insert_rowid()),
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

const HEAD_SQL: &str = "SELECT a.id, coalesce((SELECT max(m.msgid) FROM messages m WHERE m.app_id = a.id), 0), \
                        a.change_seq, a.dict_seq, a.words_seq FROM apps a";

fn head_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AppHead> {
    Ok(AppHead {
        app: AppId(r.get(0)?),
        last_msgid: MsgId(r.get(1)?),
        change_seq: r.get(2)?,
        dict_seq: r.get(3)?,
        words_seq: r.get(4)?,
    })
}

#[async_trait]
impl AppStore for SqliteStore {
    async fn create_app(&self, name: &str) -> StoreResult<App> {
        let name = name.to_owned();
        self.db.write(move |c| insert_app(c, &name)).await
    }

    async fn bootstrap_app(&self, name: &str) -> StoreResult<Option<App>> {
        let name = name.to_owned();
        self.db
            .write(move |c| {
                let any: bool = c
                    .query_row("SELECT EXISTS (SELECT 1 FROM apps)", [], |r| r.get(0))
                    .map_err(internal)?;
                if any {
                    return Ok(None);
                }
                insert_app(c, &name).map(Some)
            })
            .await
    }

    async fn list_apps(&self) -> StoreResult<Vec<App>> {
        self.db
            .read(|c| {
                let mut st = c
                    .prepare_cached(&format!("SELECT {APP_COLS} FROM apps ORDER BY id"))
                    .map_err(internal)?;
                let rows = st.query_map([], app_from_row).map_err(internal)?;
                rows.collect::<Result<_, _>>().map_err(internal)
            })
            .await
    }

    async fn app_by_key(&self, appkey: &str) -> StoreResult<Option<App>> {
        let appkey = appkey.to_owned();
        self.db
            .read(move |c| {
                let sql = format!("SELECT {APP_COLS} FROM apps WHERE appkey = ?1");
                c.query_row(&sql, [appkey], app_from_row)
                    .optional()
                    .map_err(internal)
            })
            .await
    }

    async fn set_app_disabled(&self, appkey: &str, disabled: bool) -> StoreResult<App> {
        let appkey = appkey.to_owned();
        self.db
            .write(move |c| {
                let n = c
                    .execute(
                        "UPDATE apps SET disabled = ?1 WHERE appkey = ?2",
                        params![disabled, appkey],
                    )
                    .map_err(internal)?;
                if n == 0 {
                    return Err(StoreError::NotFound(format!("app {appkey}")));
                }
                let sql = format!("SELECT {APP_COLS} FROM apps WHERE appkey = ?1");
                c.query_row(&sql, [appkey], app_from_row).map_err(internal)
            })
            .await
    }

    async fn heads(&self) -> StoreResult<Vec<AppHead>> {
        self.db
            .read(|c| {
                let mut st = c
                    .prepare_cached(&format!("{HEAD_SQL} ORDER BY a.id"))
                    .map_err(internal)?;
                let rows = st.query_map([], head_from_row).map_err(internal)?;
                rows.collect::<Result<_, _>>().map_err(internal)
            })
            .await
    }

    async fn head(&self, app: AppId) -> StoreResult<AppHead> {
        self.db
            .read(move |c| {
                let mut st = c
                    .prepare_cached(&format!("{HEAD_SQL} WHERE a.id = ?1"))
                    .map_err(internal)?;
                st.query_row([app.0], head_from_row)
                    .optional()
                    .map_err(internal)?
                    .ok_or_else(|| StoreError::NotFound(format!("app {app}")))
            })
            .await
    }
}
