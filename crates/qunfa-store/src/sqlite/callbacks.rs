//! The callback outbox (抄送): message events are added by `messages::insert` in the write that
//! stores their message; everything else here. One writer thread, so ids follow commit order.

use async_trait::async_trait;
use qunfa_core::auth::App;
use qunfa_core::callback::{self, AppCallbacks, CallbackEvent, Failed, NewEvent, Summary};
use qunfa_core::ids::{AppId, MsgId};
use qunfa_core::message::NewMessage;
use qunfa_core::store::{CallbackStore, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

use super::SqliteStore;
use super::apps::{APP_COLS, app_from_row};
use super::conn::internal;
use super::messages::{COLS, row_at};

/// The outbox row of a message stored by the current write.
pub(super) fn add_message_event(
    c: &Connection,
    app: AppId,
    msgid: MsgId,
    m: &NewMessage,
    ctx: &str,
    now_ms: i64,
) -> StoreResult<()> {
    let mut st = c
        .prepare_cached(
            "INSERT INTO callback_events (app_id, msgid, event_type, ctx, created_ms, next_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        )
        .map_err(internal)?;
    st.execute(params![
        app.0,
        msgid.0,
        callback::event_type(m.kind, m.tid.is_some()),
        ctx,
        now_ms
    ])
    .map_err(internal)?;
    Ok(())
}

const EVENT_COLS: &str = "e.id, e.app_id, e.msgid, e.event_type, e.ctx, e.created_ms, e.attempts, e.next_ms, e.dead, e.last_error";

/// The event columns, then the message's (NULL when the event names none).
fn select_events() -> String {
    let m: Vec<String> = COLS.split(',').map(|c| format!("m.{}", c.trim())).collect();
    format!(
        "SELECT {EVENT_COLS}, {} FROM callback_events e \
         LEFT JOIN messages m ON m.app_id = e.app_id AND m.msgid = e.msgid",
        m.join(", ")
    )
}

fn event_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CallbackEvent> {
    let message = match r.get::<_, Option<i64>>(10)? {
        Some(_) => Some(row_at(r, 10)?),
        None => None,
    };
    Ok(CallbackEvent {
        id: r.get(0)?,
        app: AppId(r.get(1)?),
        msgid: r.get::<_, Option<i64>>(2)?.map(MsgId),
        event_type: r.get(3)?,
        ctx: r.get(4)?,
        created_ms: r.get(5)?,
        attempts: r.get(6)?,
        next_ms: r.get(7)?,
        dead: r.get(8)?,
        last_error: r.get(9)?,
        message,
    })
}

fn events(c: &Connection, sql: &str, p: impl rusqlite::Params) -> StoreResult<Vec<CallbackEvent>> {
    let mut st = c.prepare_cached(sql).map_err(internal)?;
    let rows = st.query_map(p, event_row).map_err(internal)?;
    rows.collect::<Result<_, _>>().map_err(internal)
}

#[async_trait]
impl CallbackStore for SqliteStore {
    async fn set_app_callbacks(&self, appkey: &str, cb: AppCallbacks) -> StoreResult<App> {
        let appkey = appkey.to_owned();
        self.db
            .write(move |c| {
                let sql = format!(
                    "UPDATE apps SET callback_url = ?2, callback_events = ?3, pre_send_url = ?4 \
                     WHERE appkey = ?1 RETURNING {APP_COLS}"
                );
                c.query_row(
                    &sql,
                    params![appkey, cb.url, cb.events.as_list(), cb.pre_send_url],
                    app_from_row,
                )
                .optional()
                .map_err(internal)?
                .ok_or_else(|| StoreError::NotFound(format!("app {appkey}")))
            })
            .await
    }

    async fn add_callback_events(&self, list: Vec<NewEvent>, now_ms: i64) -> StoreResult<()> {
        if list.is_empty() {
            return Ok(());
        }
        self.db
            .write(move |c| {
                let mut st = c
                    .prepare_cached(
                        "INSERT INTO callback_events (app_id, event_type, ctx, created_ms, next_ms) \
                         VALUES (?1, ?2, ?3, ?4, ?4)",
                    )
                    .map_err(internal)?;
                for e in &list {
                    st.execute(params![e.app.0, e.event_type, e.payload, now_ms])
                        .map_err(internal)?;
                }
                Ok(())
            })
            .await
    }

    async fn due_callback_apps(&self, now_ms: i64) -> StoreResult<Vec<AppId>> {
        self.db
            .read(move |c| {
                let mut st = c
                    .prepare_cached(
                        "SELECT a.id FROM apps a WHERE a.callback_url <> '' AND EXISTS \
                         (SELECT 1 FROM callback_events e WHERE e.app_id = a.id AND e.dead = 0 AND e.next_ms <= ?1) \
                         ORDER BY a.id",
                    )
                    .map_err(internal)?;
                let rows = st
                    .query_map([now_ms], |r| Ok(AppId(r.get(0)?)))
                    .map_err(internal)?;
                rows.collect::<Result<_, _>>().map_err(internal)
            })
            .await
    }

    async fn due_callback_events(
        &self,
        app: AppId,
        now_ms: i64,
        limit: usize,
    ) -> StoreResult<Vec<CallbackEvent>> {
        self.db
            .read(move |c| {
                let sql = format!(
                    "{} WHERE e.app_id = ?1 AND e.dead = 0 AND e.next_ms <= ?2 ORDER BY e.id LIMIT ?3",
                    select_events()
                );
                events(c, &sql, params![app.0, now_ms, limit as i64])
            })
            .await
    }

    async fn callback_delivered(&self, app: AppId, id: i64) -> StoreResult<()> {
        self.db
            .write(move |c| {
                c.execute(
                    "DELETE FROM callback_events WHERE app_id = ?1 AND id = ?2",
                    params![app.0, id],
                )
                .map_err(internal)?;
                Ok(())
            })
            .await
    }

    async fn callback_failed(
        &self,
        app: AppId,
        id: i64,
        attempts: u32,
        outcome: Failed,
        error: &str,
    ) -> StoreResult<()> {
        let error = error.to_owned();
        let (next, dead) = match outcome {
            Failed::Retry { next_ms } => (Some(next_ms), false),
            Failed::Dead => (None, true),
        };
        self.db
            .write(move |c| {
                c.execute(
                    "UPDATE callback_events SET attempts = ?3, next_ms = coalesce(?4, next_ms), dead = ?5, \
                     last_error = ?6 WHERE app_id = ?1 AND id = ?2",
                    params![app.0, id, attempts, next, dead, error],
                )
                .map_err(internal)?;
                Ok(())
            })
            .await
    }

    async fn callback_summary(&self, app: AppId) -> StoreResult<Summary> {
        self.db
            .read(move |c| {
                c.query_row(
                    "SELECT coalesce(sum(dead = 0), 0), coalesce(sum(dead = 1), 0), \
                     min(CASE WHEN dead = 0 THEN next_ms END) FROM callback_events WHERE app_id = ?1",
                    [app.0],
                    |r| {
                        Ok(Summary {
                            pending: r.get::<_, i64>(0)? as u64,
                            dead: r.get::<_, i64>(1)? as u64,
                            next_ms: r.get(2)?,
                        })
                    },
                )
                .map_err(internal)
            })
            .await
    }

    async fn callback_totals(&self) -> StoreResult<(u64, u64)> {
        self.db
            .read(|c| {
                c.query_row(
                    "SELECT coalesce(sum(dead = 0), 0), coalesce(sum(dead = 1), 0) FROM callback_events",
                    [],
                    |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
                )
                .map_err(internal)
            })
            .await
    }

    async fn dead_callbacks(
        &self,
        app: AppId,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<CallbackEvent>> {
        self.db
            .read(move |c| {
                let sql = format!(
                    "{} WHERE e.app_id = ?1 AND e.dead = 1 AND e.id > ?2 ORDER BY e.id LIMIT ?3",
                    select_events()
                );
                events(c, &sql, params![app.0, after, limit as i64])
            })
            .await
    }

    async fn resend_callbacks(&self, app: AppId, ids: Vec<i64>, now_ms: i64) -> StoreResult<u64> {
        self.db
            .write(move |c| {
                let reset = "UPDATE callback_events SET dead = 0, attempts = 0, next_ms = ?2, last_error = NULL \
                             WHERE app_id = ?1 AND dead = 1";
                if ids.is_empty() {
                    let n = c.execute(reset, params![app.0, now_ms]).map_err(internal)?;
                    return Ok(n as u64);
                }
                let mut st = c
                    .prepare_cached(&format!("{reset} AND id = ?3"))
                    .map_err(internal)?;
                let mut n = 0;
                for id in ids {
                    n += st.execute(params![app.0, now_ms, id]).map_err(internal)? as u64;
                }
                Ok(n)
            })
            .await
    }

    async fn claim_callbacks(
        &self,
        app: AppId,
        node: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> StoreResult<bool> {
        let node = node.to_owned();
        self.db
            .write(move |c| {
                let mut st = c
                    .prepare_cached(
                        "INSERT INTO callback_leases (app_id, node, until_ms) VALUES (?1, ?2, ?3 + ?4) \
                         ON CONFLICT (app_id) DO UPDATE SET node = excluded.node, until_ms = excluded.until_ms \
                         WHERE callback_leases.node = excluded.node OR callback_leases.until_ms <= ?3 \
                         RETURNING node",
                    )
                    .map_err(internal)?;
                let got: Option<String> = st
                    .query_row(params![app.0, node, now_ms, lease_ms], |r| r.get(0))
                    .optional()
                    .map_err(internal)?;
                Ok(got.is_some())
            })
            .await
    }

    async fn release_callbacks(&self, app: AppId, node: &str) -> StoreResult<()> {
        let node = node.to_owned();
        self.db
            .write(move |c| {
                c.execute(
                    "DELETE FROM callback_leases WHERE app_id = ?1 AND node = ?2",
                    params![app.0, node],
                )
                .map_err(internal)?;
                Ok(())
            })
            .await
    }
}

/// Outbox rows for `qunfa migrate`, by id, without their messages.
pub(super) async fn rows(
    s: &SqliteStore,
    app: AppId,
    after: i64,
    limit: usize,
) -> StoreResult<Vec<CallbackEvent>> {
    s.db.read(move |c| {
        let sql = format!(
            "{} WHERE e.app_id = ?1 AND e.id > ?2 ORDER BY e.id LIMIT ?3",
            select_events()
        );
        let mut list = events(c, &sql, params![app.0, after, limit as i64])?;
        for e in &mut list {
            e.message = None;
        }
        Ok(list)
    })
    .await
}
