//! SQLite connections: one writer thread that group-commits every queued write into one
//! transaction (each write in its own savepoint, so one failing write does not undo the
//! others), and a small pool of read connections used from `spawn_blocking`.
//!
//! A write's result is only handed back after its transaction committed: a 200 means durable.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

pub(crate) use qunfa_core::store::internal;
use qunfa_core::store::{StoreError, StoreResult};
use rusqlite::Connection;
use tokio::sync::oneshot;

/// Most writes folded into one transaction.
const MAX_GROUP: usize = 1024;
use crate::COMMIT_METRIC;
/// Read connections kept open.
const MAX_IDLE_READERS: usize = 8;

type Finish = Box<dyn FnOnce(Result<(), String>) + Send>;

trait Job: Send {
    /// Runs inside the open transaction; returns what to do once it committed (or failed).
    fn run(self: Box<Self>, conn: &Connection) -> Finish;
    fn fail(self: Box<Self>, why: String);
}

struct WriteJob<T, F> {
    f: F,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> Job for WriteJob<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> StoreResult<T> + Send,
{
    fn run(self: Box<Self>, conn: &Connection) -> Finish {
        let WriteJob { f, reply } = *self;
        let result = match conn.execute_batch("SAVEPOINT job") {
            Err(e) => Err(internal(e)),
            Ok(()) => {
                let r = f(conn);
                let end = if r.is_ok() {
                    "RELEASE job"
                } else {
                    "ROLLBACK TO job; RELEASE job"
                };
                match conn.execute_batch(end) {
                    Ok(()) => r,
                    Err(e) => Err(internal(e)),
                }
            }
        };
        Box::new(move |committed| {
            let out = match committed {
                Ok(()) => result,
                Err(why) => Err(StoreError::Internal(why)),
            };
            // The caller may have gone away (request cancelled); the write stands either way.
            let _ = reply.send(out);
        })
    }

    fn fail(self: Box<Self>, why: String) {
        let _ = self.reply.send(Err(StoreError::Internal(why)));
    }
}

pub(crate) struct Db {
    writer: mpsc::Sender<Box<dyn Job>>,
    readers: Arc<Readers>,
    stop_checkpoints: Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for Db {
    fn drop(&mut self) {
        self.stop_checkpoints
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// How often the WAL is checkpointed, off the commit path.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);
/// WAL frames (pages) past which the writer makes the WAL start over (64 MiB of 4 KiB pages).
const WAL_RESTART_FRAMES: u64 = 16_384;

/// Copies committed WAL pages into the database file from a connection of its own, so no
/// commit ever pays for a checkpoint (SQLite's automatic one runs inside the commit that
/// crosses 1,000 pages, and cost the send that happened to trip it milliseconds). It records
/// the WAL's length in `frames` for the writer (see `writer_loop`).
fn checkpoint_loop(
    path: PathBuf,
    stop: Arc<std::sync::atomic::AtomicBool>,
    frames: Arc<std::sync::atomic::AtomicU64>,
) {
    let conn = match open(&path, false) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot open the checkpoint connection; WAL will only be checkpointed at restart");
            return;
        }
    };
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        std::thread::sleep(CHECKPOINT_EVERY);
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1)) {
            Ok(log) => frames.store(log.max(0) as u64, std::sync::atomic::Ordering::Relaxed),
            Err(e) => tracing::warn!(error = %e, "wal checkpoint failed"),
        }
    }
}

struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// Reads at once: each open connection costs file descriptors, which a gateway holding
    /// ~20,000 sockets cannot spare; more readers than cores buy nothing either.
    permits: tokio::sync::Semaphore,
}

impl Readers {
    fn take(&self) -> StoreResult<Connection> {
        if let Some(c) = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Ok(c);
        }
        open(&self.path, true).map_err(internal)
    }
    fn put(&self, c: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE_READERS {
            idle.push(c);
        }
    }
}

pub(crate) fn open(path: &Path, read_only: bool) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // journal_size_limit: the WAL file shrinks back to 64 MiB after a checkpoint empties it
    // (a big import or migration would otherwise leave it at its peak size on disk).
    conn.execute_batch(
        "PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; PRAGMA journal_size_limit = 67108864;",
    )?;
    if read_only {
        conn.execute_batch("PRAGMA query_only = ON;")?;
    }
    Ok(conn)
}

impl Db {
    /// Opens the database, applies migrations, and starts the writer thread.
    pub(crate) fn open(
        path: &Path,
        synchronous_full: bool,
        migrations: &[&str],
    ) -> StoreResult<Db> {
        let conn = open(path, false).map_err(internal)?;
        let sync = if synchronous_full { "FULL" } else { "NORMAL" };
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; PRAGMA cache_size = -65536; \
             PRAGMA wal_autocheckpoint = 0;"
        ))
        .map_err(internal)?;
        conn.create_scalar_function(
            "qunfa_audience_hash",
            1,
            rusqlite::functions::FunctionFlags::SQLITE_DETERMINISTIC,
            |ctx| Ok(qunfa_core::audience::digest(&ctx.get::<Vec<u8>>(0)?).to_vec()),
        )
        .map_err(internal)?;
        migrate(&conn, migrations)?;
        let (tx, rx) = mpsc::channel::<Box<dyn Job>>();
        let frames = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let wal = frames.clone();
        std::thread::Builder::new()
            .name("qunfa-sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx, wal))
            .map_err(internal)?;
        let readers = Arc::new(Readers {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
            permits: tokio::sync::Semaphore::new(MAX_IDLE_READERS),
        });
        let stop_checkpoints = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (p, stop, wal) = (path.to_owned(), stop_checkpoints.clone(), frames);
        std::thread::Builder::new()
            .name("qunfa-sqlite-checkpoint".into())
            .spawn(move || checkpoint_loop(p, stop, wal))
            .map_err(internal)?;
        Ok(Db {
            writer: tx,
            readers,
            stop_checkpoints,
        })
    }

    /// Runs `f` in the writer's next transaction and answers once that committed.
    pub(crate) async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        self.writer
            .send(Box::new(WriteJob { f, reply }))
            .map_err(|_| internal("sqlite writer stopped"))?;
        rx.await
            .map_err(|_| internal("sqlite writer dropped a write"))?
    }

    /// Runs `f` on a read connection off the async runtime.
    pub(crate) async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let _permit = self.readers.permits.acquire().await.map_err(internal)?;
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = readers.take()?;
            let r = f(&conn);
            readers.put(conn);
            r
        })
        .await
        .map_err(internal)?
    }
}

/// Group-commits queued writes. Under writes that never pause, the checkpoint thread never
/// reaches the WAL's end (new frames keep coming), and SQLite only starts the WAL over once a
/// checkpoint has: it would grow without bound (2.6 GB after 100,000 sends). So once the WAL
/// is past `WAL_RESTART_FRAMES`, the writer checkpoints it itself between two transactions,
/// when nothing can append to it; most pages are copied already, so this costs little, and
/// the next transaction writes from the WAL's start (`journal_size_limit` then trims the file).
fn writer_loop(
    conn: Connection,
    rx: mpsc::Receiver<Box<dyn Job>>,
    frames: Arc<std::sync::atomic::AtomicU64>,
) {
    let commit_time = metrics::histogram!(COMMIT_METRIC, "backend" => "sqlite");
    while let Ok(first) = rx.recv() {
        if frames.load(std::sync::atomic::Ordering::Relaxed) > WAL_RESTART_FRAMES {
            frames.store(0, std::sync::atomic::Ordering::Relaxed);
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::warn!(error = %e, "wal checkpoint on the writer failed");
            }
        }
        let started = std::time::Instant::now();
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            tracing::error!(error = %e, "sqlite begin failed");
            first.fail(e.to_string());
            continue;
        }
        let mut finishes = vec![first.run(&conn)];
        while finishes.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => finishes.push(job.run(&conn)),
                Err(_) => break,
            }
        }
        let committed = conn.execute_batch("COMMIT").map_err(|e| {
            tracing::error!(error = %e, "sqlite commit failed");
            let _ = conn.execute_batch("ROLLBACK");
            e.to_string()
        });
        commit_time.record(started.elapsed().as_secs_f64());
        for finish in finishes {
            finish(committed.clone());
        }
    }
}

/// Applies the migrations the database has not seen yet (tracked in `PRAGMA user_version`).
fn migrate(conn: &Connection, migrations: &[&str]) -> StoreResult<()> {
    conn.execute_batch("BEGIN IMMEDIATE").map_err(internal)?;
    let run = || -> rusqlite::Result<()> {
        let version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version < migrations.len() && version > 0 {
            // An upgrade of existing data can take a while: say so before, not only after.
            tracing::info!(
                from = version,
                to = migrations.len(),
                "upgrading the sqlite schema (on a large database this can take a while)"
            );
        }
        let started = std::time::Instant::now();
        for (i, sql) in migrations.iter().enumerate().skip(version) {
            conn.execute_batch(sql)?;
            conn.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
        }
        if version < migrations.len() {
            tracing::info!(
                from = version,
                to = migrations.len(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "sqlite migrations applied"
            );
        }
        Ok(())
    };
    match run() {
        Ok(()) => conn.execute_batch("COMMIT").map_err(internal),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(internal(format!("migration failed: {e}")))
        }
    }
}
