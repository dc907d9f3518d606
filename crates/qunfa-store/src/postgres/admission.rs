//! [`PgAdmission`]: the replay window and the rate limits, shared by every node on the
//! database (`qunfa_core::admission`).
//!
//! Both live in UNLOGGED tables (`replay`, `rate_counters`): no WAL on the request path. A
//! PostgreSQL crash (not a clean restart) empties them, which forgets at most one CurTime
//! window of nonces and the current rate windows.
//!
//! - `first_use` is on every request's path, so concurrent calls are batched: a task takes
//!   all waiting triples and records them with one `INSERT ... ON CONFLICT DO NOTHING
//!   RETURNING`; a triple is new when its row came back. Rows whose CurTime fell out of the
//!   window are deleted by the same task at most once a second.
//! - `count` is one upsert per call that applies NIM's fixed window and penalty
//!   ([`qunfa_core::ratelimit::RateLimiter::check`]'s rule) under the row's lock, so the
//!   counters of all nodes add up.

use std::collections::HashMap;

use async_trait::async_trait;
use deadpool_postgres::Pool;
use qunfa_core::admission::Admission;
use qunfa_core::ids::AppId;
use qunfa_core::ratelimit::{Limits, classify, window_start};
use qunfa_core::store::{StoreError, StoreResult, internal};
use tokio::sync::{mpsc, oneshot};

use super::{get, pg, pg_detail};

/// Most triples recorded by one statement.
const MAX_BATCH: usize = 1000;
/// How often expired triples are deleted, at most.
const CLEANUP_EVERY_MS: i64 = 1000;

struct Use {
    app: i64,
    nonce: String,
    curtime: i64,
    now_ms: i64,
    reply: oneshot::Sender<StoreResult<bool>>,
}

/// The admission state of a deployment, in its PostgreSQL database.
pub struct PgAdmission {
    pool: Pool,
    limits: Limits,
    uses: mpsc::Sender<Use>,
}

impl PgAdmission {
    /// Starts the replay batcher (it ends when this is dropped).
    pub fn new(pool: Pool, window_secs: i64, limits: Limits) -> PgAdmission {
        let (tx, rx) = mpsc::channel(16_384);
        tokio::spawn(record_uses(pool.clone(), window_secs, rx));
        PgAdmission {
            pool,
            limits,
            uses: tx,
        }
    }
}

const RECORD_SQL: &str = "INSERT INTO replay (curtime, app_id, nonce) \
     SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[]) \
     ON CONFLICT DO NOTHING RETURNING curtime, app_id, nonce";

async fn record_uses(pool: Pool, window_secs: i64, mut rx: mpsc::Receiver<Use>) {
    let mut last_cleanup = i64::MIN;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let now_ms = batch.iter().map(|u| u.now_ms).max().unwrap_or(0);
        let oldest = now_ms.div_euclid(1000) - window_secs;
        let cleanup = now_ms.saturating_sub(last_cleanup) >= CLEANUP_EVERY_MS;
        match record(&pool, &batch, cleanup.then_some(oldest)).await {
            Ok(fresh) => {
                if cleanup {
                    last_cleanup = now_ms;
                }
                for (u, new) in batch.drain(..).zip(fresh) {
                    let _ = u.reply.send(Ok(new));
                }
            }
            Err(e) => {
                for u in batch.drain(..) {
                    let _ = u.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// Records the batch's triples; answers, per triple, whether it was new. A triple asked
/// twice in one batch is new only the first time.
async fn record(pool: &Pool, batch: &[Use], expire_before: Option<i64>) -> StoreResult<Vec<bool>> {
    let mut first_of: HashMap<(i64, i64, &str), usize> = HashMap::new();
    let mut ask: Vec<usize> = Vec::with_capacity(batch.len());
    for (i, u) in batch.iter().enumerate() {
        first_of
            .entry((u.curtime, u.app, &u.nonce))
            .or_insert_with(|| {
                ask.push(i);
                i
            });
    }
    let curtimes: Vec<i64> = ask.iter().map(|&i| batch[i].curtime).collect();
    let apps: Vec<i64> = ask.iter().map(|&i| batch[i].app).collect();
    let nonces: Vec<&str> = ask.iter().map(|&i| batch[i].nonce.as_str()).collect();
    let c = get(pool).await?;
    if let Some(oldest) = expire_before {
        let st = c
            .prepare_cached("DELETE FROM replay WHERE curtime < $1")
            .await
            .map_err(pg)?;
        c.execute(&st, &[&oldest]).await.map_err(pg)?;
    }
    let st = c.prepare_cached(RECORD_SQL).await.map_err(pg)?;
    let rows = c
        .query(&st, &[&curtimes, &apps, &nonces])
        .await
        .map_err(pg)?;
    let mut out = vec![false; batch.len()];
    for r in rows {
        let nonce: &str = r.get(2);
        if let Some(&i) = first_of.get(&(r.get(0), r.get(1), nonce)) {
            out[i] = true;
        }
    }
    Ok(out)
}

/// One call counted against a fixed window, NIM's way: in a penalty, refused and left as is;
/// a window past its end starts over; over the limit, refused and blocked for the penalty;
/// otherwise counted. `refused` is `blocked_until_ms > now`: true exactly when refused.
const COUNT_SQL: &str = "INSERT INTO rate_counters AS c (app_id, key, window_start_ms, count, blocked_until_ms) \
     VALUES ($1, $2, $3, CASE WHEN $5::int > 0 THEN 1 ELSE 0 END, \
             CASE WHEN $5::int > 0 THEN 0 ELSE $4::bigint + $7::bigint END) \
     ON CONFLICT (app_id, key) DO UPDATE SET \
     window_start_ms = CASE \
         WHEN $4::bigint < c.blocked_until_ms THEN c.window_start_ms \
         WHEN $4::bigint - c.window_start_ms >= $6::bigint OR $4::bigint < c.window_start_ms THEN $3::bigint \
         ELSE c.window_start_ms END, \
     count = CASE \
         WHEN $4::bigint < c.blocked_until_ms THEN c.count \
         WHEN $4::bigint - c.window_start_ms >= $6::bigint OR $4::bigint < c.window_start_ms \
             THEN CASE WHEN 0 >= $5::int THEN 0 ELSE 1 END \
         WHEN c.count >= $5::int THEN c.count \
         ELSE c.count + 1 END, \
     blocked_until_ms = CASE \
         WHEN $4::bigint < c.blocked_until_ms THEN c.blocked_until_ms \
         WHEN $4::bigint - c.window_start_ms >= $6::bigint OR $4::bigint < c.window_start_ms \
             THEN CASE WHEN 0 >= $5::int THEN $4::bigint + $7::bigint ELSE c.blocked_until_ms END \
         WHEN c.count >= $5::int THEN $4::bigint + $7::bigint \
         ELSE c.blocked_until_ms END \
     RETURNING c.blocked_until_ms > $4::bigint";

#[async_trait]
impl Admission for PgAdmission {
    async fn first_use(
        &self,
        app: AppId,
        nonce: &str,
        curtime: i64,
        now_ms: i64,
    ) -> StoreResult<bool> {
        let (reply, rx) = oneshot::channel();
        let u = Use {
            app: app.0,
            nonce: nonce.to_owned(),
            curtime,
            now_ms,
            reply,
        };
        self.uses
            .send(u)
            .await
            .map_err(|_| internal("replay recorder stopped"))?;
        rx.await
            .map_err(|_| internal("replay recorder dropped a call"))?
    }

    async fn forget(&self, app: AppId, nonce: &str, curtime: i64) -> StoreResult<()> {
        let c = get(&self.pool).await?;
        let st = c
            .prepare_cached("DELETE FROM replay WHERE curtime = $1 AND app_id = $2 AND nonce = $3")
            .await
            .map_err(pg)?;
        c.execute(&st, &[&curtime, &app.0, &nonce])
            .await
            .map_err(pg)?;
        Ok(())
    }

    async fn count(
        &self,
        app: AppId,
        endpoint: &str,
        now_ms: i64,
    ) -> StoreResult<Result<(), String>> {
        let (class, key) = classify(endpoint);
        let limit = self.limits.of(class);
        let window_ms = i64::from(limit.per_secs) * 1000;
        let penalty_ms = i64::from(limit.penalty_secs) * 1000;
        let count = i32::try_from(limit.count).unwrap_or(i32::MAX);
        let c = get(&self.pool).await?;
        let st = c.prepare_cached(COUNT_SQL).await.map_err(pg)?;
        let row = c
            .query_one(
                &st,
                &[
                    &app.0,
                    &key,
                    &window_start(now_ms, limit.per_secs),
                    &now_ms,
                    &count,
                    &window_ms,
                    &penalty_ms,
                ],
            )
            .await
            .map_err(|e| StoreError::Internal(pg_detail(&e)))?;
        let refused: bool = row.get(0);
        Ok(if refused { Err(key.to_owned()) } else { Ok(()) })
    }
}
