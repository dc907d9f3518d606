//! The callback outbox (抄送) on PostgreSQL. Message events are inserted by the writer's own
//! statement (`batch.rs`, `INSERT_CB_SQL`); logins, the deliverer's reads and writes, dead
//! letters and the per-app delivery lease are here, on pooled connections.
//!
//! **One node at a time.** A node delivers an app's events only while it holds the app's row in
//! `callback_leases` with `until_ms` in the future; it renews the lease as it goes and gives it
//! up when the app has nothing due. A node that dies stops renewing: once the lease expires,
//! another node's claim succeeds and it sends what is still pending.

use async_trait::async_trait;
use qunfa_core::auth::App;
use qunfa_core::callback::{AppCallbacks, CallbackEvent, Failed, NewEvent, Summary};
use qunfa_core::ids::{AppId, MsgId};
use qunfa_core::store::{CallbackStore, StoreError, StoreResult};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::apps::{APP_COLS, app_from_row};
use super::messages::{COLS, row_at};
use super::{PgStore, pg};

const EVENT_COLS: &str = "e.id, e.app_id, e.msgid, e.event_type, e.ctx, e.created_ms, e.attempts, e.next_ms, e.dead, e.last_error";

fn select_events() -> String {
    let m: Vec<String> = COLS.split(',').map(|c| format!("m.{}", c.trim())).collect();
    format!(
        "SELECT {EVENT_COLS}, {} FROM callback_events e \
         LEFT JOIN messages m ON m.app_id = e.app_id AND m.msgid = e.msgid",
        m.join(", ")
    )
}

fn event_row(r: &Row) -> CallbackEvent {
    let message = r.get::<_, Option<i64>>(10).map(|_| row_at(r, 10));
    CallbackEvent {
        id: r.get(0),
        app: AppId(r.get(1)),
        msgid: r.get::<_, Option<i64>>(2).map(MsgId),
        event_type: r.get(3),
        ctx: r.get(4),
        created_ms: r.get(5),
        attempts: u32::try_from(r.get::<_, i32>(6)).unwrap_or(0),
        next_ms: r.get(7),
        dead: r.get(8),
        last_error: r.get(9),
        message,
    }
}

impl PgStore {
    async fn events(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Vec<CallbackEvent>> {
        let c = self.client().await?;
        let st = c.prepare_cached(sql).await.map_err(pg)?;
        let rows = c.query(&st, params).await.map_err(pg)?;
        Ok(rows.iter().map(event_row).collect())
    }

    async fn run(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<u64> {
        let c = self.client().await?;
        let st = c.prepare_cached(sql).await.map_err(pg)?;
        c.execute(&st, params).await.map_err(pg)
    }
}

#[async_trait]
impl CallbackStore for PgStore {
    async fn set_app_callbacks(&self, appkey: &str, cb: AppCallbacks) -> StoreResult<App> {
        let c = self.client().await?;
        let events = cb.events.as_list();
        let row = c
            .query_opt(
                &format!(
                    "UPDATE apps SET callback_url = $2, callback_events = $3, pre_send_url = $4 \
                     WHERE appkey = $1 RETURNING {APP_COLS}"
                ),
                &[&appkey, &cb.url, &events, &cb.pre_send_url],
            )
            .await
            .map_err(pg)?;
        row.as_ref()
            .map(app_from_row)
            .ok_or_else(|| StoreError::NotFound(format!("app {appkey}")))
    }

    async fn add_callback_events(&self, list: Vec<NewEvent>, now_ms: i64) -> StoreResult<()> {
        if list.is_empty() {
            return Ok(());
        }
        let apps: Vec<i64> = list.iter().map(|e| e.app.0).collect();
        let types: Vec<&str> = list.iter().map(|e| e.event_type.as_str()).collect();
        let payloads: Vec<&str> = list.iter().map(|e| e.payload.as_str()).collect();
        // One statement for the batch; WITH ORDINALITY keeps the order given in the ids.
        self.run(
            "INSERT INTO callback_events (app_id, event_type, ctx, created_ms, next_ms) \
             SELECT u.app_id, u.event_type, u.ctx, $4::bigint, $4::bigint \
             FROM UNNEST($1::bigint[], $2::text[], $3::text[]) WITH ORDINALITY AS u(app_id, event_type, ctx, ord) \
             ORDER BY u.ord",
            &[&apps, &types, &payloads, &now_ms],
        )
        .await?;
        Ok(())
    }

    async fn due_callback_apps(&self, now_ms: i64) -> StoreResult<Vec<AppId>> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(
                "SELECT a.id FROM apps a WHERE a.callback_url <> '' AND EXISTS \
                 (SELECT 1 FROM callback_events e WHERE e.app_id = a.id AND NOT e.dead AND e.next_ms <= $1) \
                 ORDER BY a.id",
            )
            .await
            .map_err(pg)?;
        let rows = c.query(&st, &[&now_ms]).await.map_err(pg)?;
        Ok(rows.iter().map(|r| AppId(r.get(0))).collect())
    }

    async fn due_callback_events(
        &self,
        app: AppId,
        now_ms: i64,
        limit: usize,
    ) -> StoreResult<Vec<CallbackEvent>> {
        let sql = format!(
            "{} WHERE e.app_id = $1 AND NOT e.dead AND e.next_ms <= $2 ORDER BY e.id LIMIT $3",
            select_events()
        );
        let limit = limit as i64;
        self.events(&sql, &[&app.0, &now_ms, &limit]).await
    }

    async fn callback_delivered(&self, app: AppId, id: i64) -> StoreResult<()> {
        self.run(
            "DELETE FROM callback_events WHERE app_id = $1 AND id = $2",
            &[&app.0, &id],
        )
        .await?;
        Ok(())
    }

    async fn callback_failed(
        &self,
        app: AppId,
        id: i64,
        attempts: u32,
        outcome: Failed,
        error: &str,
    ) -> StoreResult<()> {
        let (next, dead) = match outcome {
            Failed::Retry { next_ms } => (Some(next_ms), false),
            Failed::Dead => (None, true),
        };
        let attempts = i32::try_from(attempts).unwrap_or(i32::MAX);
        self.run(
            "UPDATE callback_events SET attempts = $3, next_ms = coalesce($4, next_ms), dead = $5, \
             last_error = $6 WHERE app_id = $1 AND id = $2",
            &[&app.0, &id, &attempts, &next, &dead, &error],
        )
        .await?;
        Ok(())
    }

    async fn callback_summary(&self, app: AppId) -> StoreResult<Summary> {
        let c = self.client().await?;
        let r = c
            .query_one(
                "SELECT count(*) FILTER (WHERE NOT dead), count(*) FILTER (WHERE dead), \
                 min(next_ms) FILTER (WHERE NOT dead) FROM callback_events WHERE app_id = $1",
                &[&app.0],
            )
            .await
            .map_err(pg)?;
        Ok(Summary {
            pending: r.get::<_, i64>(0) as u64,
            dead: r.get::<_, i64>(1) as u64,
            next_ms: r.get(2),
        })
    }

    async fn callback_totals(&self) -> StoreResult<(u64, u64)> {
        let c = self.client().await?;
        let r = c
            .query_one(
                "SELECT count(*) FILTER (WHERE NOT dead), count(*) FILTER (WHERE dead) FROM callback_events",
                &[],
            )
            .await
            .map_err(pg)?;
        Ok((r.get::<_, i64>(0) as u64, r.get::<_, i64>(1) as u64))
    }

    async fn dead_callbacks(
        &self,
        app: AppId,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<CallbackEvent>> {
        let sql = format!(
            "{} WHERE e.app_id = $1 AND e.dead AND e.id > $2 ORDER BY e.id LIMIT $3",
            select_events()
        );
        let limit = limit as i64;
        self.events(&sql, &[&app.0, &after, &limit]).await
    }

    async fn resend_callbacks(&self, app: AppId, ids: Vec<i64>, now_ms: i64) -> StoreResult<u64> {
        let all = ids.is_empty();
        self.run(
            "UPDATE callback_events SET dead = false, attempts = 0, next_ms = $2, last_error = NULL \
             WHERE app_id = $1 AND dead AND ($3::bool OR id = ANY($4::bigint[]))",
            &[&app.0, &now_ms, &all, &ids],
        )
        .await
    }

    async fn claim_callbacks(
        &self,
        app: AppId,
        node: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> StoreResult<bool> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(
                "INSERT INTO callback_leases (app_id, node, until_ms) VALUES ($1::bigint, $2::text, $3::bigint + $4::bigint) \
                 ON CONFLICT (app_id) DO UPDATE SET node = excluded.node, until_ms = excluded.until_ms \
                 WHERE callback_leases.node = excluded.node OR callback_leases.until_ms <= $3 \
                 RETURNING node",
            )
            .await
            .map_err(pg)?;
        let row = c
            .query_opt(&st, &[&app.0, &node, &now_ms, &lease_ms])
            .await
            .map_err(pg)?;
        Ok(row.is_some())
    }

    async fn release_callbacks(&self, app: AppId, node: &str) -> StoreResult<()> {
        self.run(
            "DELETE FROM callback_leases WHERE app_id = $1 AND node = $2",
            &[&app.0, &node],
        )
        .await?;
        Ok(())
    }
}

/// `qunfa migrate`: outbox rows with their ids (`ON CONFLICT DO NOTHING`), in one statement;
/// then the id sequence is raised past them, so events made later never take a migrated id.
pub(super) async fn put_rows(s: &PgStore, app: AppId, rows: &[CallbackEvent]) -> StoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = rows.iter().map(|e| e.id).collect();
    let msgids: Vec<Option<i64>> = rows.iter().map(|e| e.msgid.map(|m| m.0)).collect();
    let types: Vec<&str> = rows.iter().map(|e| e.event_type.as_str()).collect();
    let ctxs: Vec<&str> = rows.iter().map(|e| e.ctx.as_str()).collect();
    let created: Vec<i64> = rows.iter().map(|e| e.created_ms).collect();
    let attempts: Vec<i32> = rows
        .iter()
        .map(|e| i32::try_from(e.attempts).unwrap_or(i32::MAX))
        .collect();
    let next: Vec<i64> = rows.iter().map(|e| e.next_ms).collect();
    let dead: Vec<bool> = rows.iter().map(|e| e.dead).collect();
    let errors: Vec<Option<&str>> = rows.iter().map(|e| e.last_error.as_deref()).collect();
    s.run(
        "INSERT INTO callback_events (id, app_id, msgid, event_type, ctx, created_ms, attempts, next_ms, dead, \
         last_error) SELECT u.id, $1, u.msgid, u.event_type, u.ctx, u.created_ms, u.attempts, u.next_ms, u.dead, \
         u.last_error FROM UNNEST($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::int[], \
         $8::bigint[], $9::bool[], $10::text[]) AS u(id, msgid, event_type, ctx, created_ms, attempts, next_ms, \
         dead, last_error) ON CONFLICT (id) DO NOTHING",
        &[
            &app.0, &ids, &msgids, &types, &ctxs, &created, &attempts, &next, &dead, &errors,
        ],
    )
    .await?;
    s.run(
        "SELECT setval(pg_get_serial_sequence('callback_events', 'id'), (SELECT max(id) FROM callback_events))",
        &[],
    )
    .await?;
    Ok(())
}
