//! The message writer: one task with a connection of its own group-commits every queued
//! `store_messages` and `recall_message` call.
//!
//! **msgids follow commit order, across nodes.** `msg_seqs(app_id, next_msgid)` holds each
//! app's next msgid. A transaction that stores messages for an app first runs
//! `UPDATE msg_seqs SET next_msgid = next_msgid + n WHERE app_id = $1 RETURNING ...`, which
//! takes that row's lock and holds it until COMMIT. Any other transaction giving out msgids of
//! that app (this node's next batch, another node's writer) waits on the lock and reads the
//! counter the first one committed. So transactions of one app hand out msgids in the order
//! they commit: once a reader sees msgid N, every lower msgid that will ever exist is already
//! visible. A head is the committed counter minus one, so it never names a msgid whose
//! transaction is still open. A rolled-back transaction rolls its increment back with it: no
//! gaps. Several apps in one batch are locked in app id order, so writers never deadlock.
//!
//! **Group commit.** The task takes every queued job (up to [`MAX_JOBS`] / [`MAX_ROWS`]) and
//! stores them in one transaction: per app, one statement updates `msg_seqs`, inserts the new
//! audiences (`ON CONFLICT DO NOTHING`) and every message (`UNNEST` of arrays). A batch of one
//! app's sends is that one statement, run as its own transaction: one round trip, and its
//! answer comes after the commit. Otherwise BEGIN and the statements are pipelined (one round
//! trip), then COMMIT follows once all of them succeeded. Mass messages with a
//! `msgidclient` first lock their apps' rows and look their keys up, so the idempotency check
//! is exact across nodes; two of them in one batch are deduplicated in memory, as if the jobs
//! had run one after the other. Guarded jobs (team sends, `TeamStore::store_guarded`) first
//! lock their teams' rows `FOR SHARE`, in (app, tid) order and before `msg_seqs` (the order a
//! team change takes them in); a job whose team moved on is answered `Stale` and the rest of
//! the batch goes on. Their keys are checked per sender. If the batch fails with a database error, its jobs are retried
//! one by one, each in its own savepoint, so a bad job fails alone. Replies go out only after
//! COMMIT: on a commit or connection failure every job of the batch gets `Internal` and
//! nothing of it is visible; the task then reconnects for the next batch. It ends when the
//! store (the last sender) is dropped.

use std::time::{Duration, Instant};

use qunfa_core::ids::{AppId, MsgId};
use qunfa_core::message::{NewMessage, Sent};
use qunfa_core::store::{StoreError, StoreResult, TeamGuard, internal};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::{Client, Statement};

use super::batch::{Tx, attempt, needs_tx};
use super::statements::{GUARD_SQL, INSERT_CB_SQL, INSERT_SQL, LOCK_SQL, LOOKUP_SQL, RECALL_SQL};
use super::{Target, pg, pg_detail};

/// Most jobs in one transaction.
const MAX_JOBS: usize = 1000;
/// Most messages in one transaction (a job is never split).
const MAX_ROWS: usize = 20_000;
/// Jobs waiting for the writer before callers wait to queue.
const QUEUE: usize = 16_384;
/// After a failed connect, batches fail at once for this long instead of reconnecting.
const RECONNECT_PAUSE: Duration = Duration::from_millis(250);

/// One call waiting to be stored.
pub(super) struct Job {
    pub(super) app: AppId,
    pub(super) now_ms: i64,
    pub(super) dedupe_since_ms: i64,
    pub(super) msgs: Vec<NewMessage>,
    /// A recall: the withdrawn msgid (`msgs` is then the tombstone alone).
    pub(super) recall: Option<MsgId>,
    /// Store only if these teams are still at these versions (else the job answers `Stale`).
    pub(super) guards: Vec<TeamGuard>,
    /// Every message with a `msgidclient` is checked for an earlier one by its sender (not
    /// only mass messages by app-wide key).
    pub(super) any_key: bool,
    reply: oneshot::Sender<StoreResult<Vec<Sent>>>,
}

/// The handle the store keeps; dropping it stops the task.
pub(super) struct Writer {
    tx: mpsc::Sender<Job>,
}

impl Writer {
    /// Connects the writer's own connection and starts its task.
    pub(super) async fn start(target: Target) -> StoreResult<Writer> {
        let conn = Conn::open(&target).await?;
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(target, Some(conn), rx));
        Ok(Writer { tx })
    }

    async fn submit(
        &self,
        job: Job,
        rx: oneshot::Receiver<StoreResult<Vec<Sent>>>,
    ) -> StoreResult<Vec<Sent>> {
        self.tx
            .send(job)
            .await
            .map_err(|_| internal("postgres writer stopped"))?;
        rx.await
            .map_err(|_| internal("postgres writer dropped a write"))?
    }

    pub(super) async fn store(
        &self,
        app: AppId,
        msgs: Vec<NewMessage>,
        now_ms: i64,
        dedupe_since_ms: i64,
    ) -> StoreResult<Vec<Sent>> {
        if msgs.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, rx) = oneshot::channel();
        let job = Job {
            app,
            now_ms,
            dedupe_since_ms,
            msgs,
            recall: None,
            guards: Vec::new(),
            any_key: false,
            reply,
        };
        self.submit(job, rx).await
    }

    /// `TeamStore::store_guarded`, group-committed with the other writes.
    pub(super) async fn store_guarded(
        &self,
        app: AppId,
        guards: Vec<TeamGuard>,
        msgs: Vec<NewMessage>,
        now_ms: i64,
        dedupe_since_ms: i64,
    ) -> StoreResult<Vec<Sent>> {
        let (reply, rx) = oneshot::channel();
        let job = Job {
            app,
            now_ms,
            dedupe_since_ms,
            msgs,
            recall: None,
            guards,
            any_key: true,
            reply,
        };
        self.submit(job, rx).await
    }

    pub(super) async fn recall(
        &self,
        app: AppId,
        msgid: MsgId,
        tombstone: NewMessage,
        now_ms: i64,
    ) -> StoreResult<Sent> {
        let (reply, rx) = oneshot::channel();
        let job = Job {
            app,
            now_ms,
            dedupe_since_ms: now_ms,
            msgs: vec![tombstone],
            recall: Some(msgid),
            guards: Vec::new(),
            any_key: false,
            reply,
        };
        let mut sent = self.submit(job, rx).await?;
        let mut s = sent
            .pop()
            .ok_or_else(|| internal("recall stored no tombstone"))?;
        s.antispam = false;
        Ok(s)
    }
}

/// The writer's connection and its prepared statements.
pub(super) struct Conn {
    pub(super) client: Client,
    pub(super) begin: Statement,
    pub(super) insert: Statement,
    pub(super) insert_cb: Statement,
    pub(super) recall: Statement,
    pub(super) lock: Statement,
    pub(super) lookup: Statement,
    pub(super) guard: Statement,
}

impl Conn {
    async fn open(target: &Target) -> StoreResult<Conn> {
        let client = target.connect().await?;
        let prepare = |sql: &'static str| {
            let c = &client;
            async move { c.prepare(sql).await.map_err(pg) }
        };
        Ok(Conn {
            begin: prepare("BEGIN").await?,
            insert: prepare(INSERT_SQL).await?,
            insert_cb: prepare(INSERT_CB_SQL).await?,
            recall: prepare(RECALL_SQL).await?,
            lock: prepare(LOCK_SQL).await?,
            lookup: prepare(LOOKUP_SQL).await?,
            guard: prepare(GUARD_SQL).await?,
            client,
        })
    }
}

async fn run(target: Target, mut conn: Option<Conn>, mut rx: mpsc::Receiver<Job>) {
    let mut carry: Option<Job> = None;
    let mut failed_connect: Option<Instant> = None;
    let commit_time = metrics::histogram!(crate::COMMIT_METRIC, "backend" => "postgres");
    loop {
        let first = match carry.take() {
            Some(j) => j,
            None => match rx.recv().await {
                Some(j) => j,
                None => break,
            },
        };
        let mut rows = first.msgs.len();
        let mut batch = vec![first];
        while batch.len() < MAX_JOBS {
            match rx.try_recv() {
                Ok(j) if rows + j.msgs.len() > MAX_ROWS => {
                    carry = Some(j);
                    break;
                }
                Ok(j) => {
                    rows += j.msgs.len();
                    batch.push(j);
                }
                Err(_) => break,
            }
        }
        if conn.as_ref().is_none_or(|c| c.client.is_closed()) {
            conn = None;
            if failed_connect.is_none_or(|t| t.elapsed() >= RECONNECT_PAUSE) {
                match Conn::open(&target).await {
                    Ok(c) => {
                        tracing::info!("postgres writer reconnected");
                        conn = Some(c);
                        failed_connect = None;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "postgres writer cannot reconnect");
                        failed_connect = Some(Instant::now());
                    }
                }
            }
        }
        let Some(c) = &conn else {
            fail_all(batch, "postgres is unreachable");
            continue;
        };
        let started = Instant::now();
        let committed = commit(c, &batch).await;
        commit_time.record(started.elapsed().as_secs_f64());
        match committed {
            Ok(results) => {
                for (job, r) in batch.into_iter().zip(results) {
                    // The caller may have gone away (request cancelled); the write stands.
                    let _ = job.reply.send(r);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, jobs = batch.len(), "postgres message batch failed");
                // Whatever state the session was left in (a transaction may still be open with
                // part of the batch in it), closing it makes the server roll that back; the
                // next batch starts on a fresh connection.
                conn = None;
                fail_all(batch, &e);
            }
        }
    }
    tracing::debug!("postgres writer stopped");
}

fn fail_all(batch: Vec<Job>, why: &str) {
    for job in batch {
        let _ = job.reply.send(Err(StoreError::Internal(why.to_owned())));
    }
}

/// Stores a batch in one transaction; answers each job's result once it committed. `Err`:
/// nothing of the batch was committed.
async fn commit(c: &Conn, batch: &[Job]) -> Result<Vec<StoreResult<Vec<Sent>>>, String> {
    let jobs: Vec<&Job> = batch.iter().collect();
    // The common batch (one app's sends, nothing to look up) is a single statement, which
    // PostgreSQL runs as a transaction of its own: committed, durably, before it answers.
    let single = jobs
        .iter()
        .all(|j| j.app == batch[0].app && j.recall.is_none() && !needs_tx(j));
    let tx = if single { Tx::Autocommit } else { Tx::Begin };
    match attempt(c, &jobs, tx).await {
        Ok(results) if single => return Ok(results),
        Ok(results) => match c.client.batch_execute("COMMIT").await {
            Ok(()) => return Ok(results),
            Err(e) if e.as_db_error().is_none() => return Err(pg_detail(&e)),
            Err(e) => {
                tracing::warn!(error = %pg_detail(&e), "postgres batch commit refused; retrying its jobs one by one")
            }
        },
        Err(e) if e.as_db_error().is_none() => return Err(pg_detail(&e)),
        Err(e) => {
            tracing::warn!(error = %pg_detail(&e), jobs = jobs.len(), "postgres batch failed; retrying its jobs one by one")
        }
    }
    let c_err = |e: tokio_postgres::Error| pg_detail(&e);
    // The failed transaction is over or aborted; end it whichever it is.
    c.client.batch_execute("ROLLBACK").await.map_err(c_err)?;
    c.client.batch_execute("BEGIN").await.map_err(c_err)?;
    // In app order, as the batch locked them: writers on other nodes lock apps in that order
    // too, so no two of them wait on each other. Results go back in job order.
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by_key(|&i| jobs[i].app);
    let mut results: Vec<StoreResult<Vec<Sent>>> = Vec::with_capacity(jobs.len());
    for &i in &order {
        let job = &jobs[i];
        c.client
            .batch_execute("SAVEPOINT job")
            .await
            .map_err(c_err)?;
        match attempt(c, std::slice::from_ref(job), Tx::Inside).await {
            Ok(mut r) => {
                c.client
                    .batch_execute("RELEASE SAVEPOINT job")
                    .await
                    .map_err(c_err)?;
                results.push(
                    r.pop()
                        .unwrap_or_else(|| Err(internal("job left no result"))),
                );
            }
            Err(e) if e.as_db_error().is_some() => {
                c.client
                    .batch_execute("ROLLBACK TO SAVEPOINT job; RELEASE SAVEPOINT job")
                    .await
                    .map_err(c_err)?;
                results.push(Err(pg(e)));
            }
            Err(e) => {
                let _ = c.client.batch_execute("ROLLBACK").await;
                return Err(pg_detail(&e));
            }
        }
    }
    c.client.batch_execute("COMMIT").await.map_err(c_err)?;
    let mut by_job: Vec<Option<StoreResult<Vec<Sent>>>> = (0..jobs.len()).map(|_| None).collect();
    for (i, r) in order.into_iter().zip(results) {
        by_job[i] = Some(r);
    }
    Ok(by_job
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(internal("job left no result"))))
        .collect())
}
