//! The embedded SQLite backend: one file in the data directory, WAL mode, migrations applied
//! at open, writes group-committed on one thread (see `conn.rs`). One file per part of the
//! port.

mod accounts;
mod apps;
pub mod backup;
mod callbacks;
mod conn;
mod delivery;
mod dict;
mod messages;
mod teams;
mod transfer;
mod words;

use std::path::{Path, PathBuf};

use qunfa_core::ids::AppId;
use qunfa_core::store::{Store, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

use conn::{Db, internal};

const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/sqlite/0001_init.sql"),
    include_str!("../../migrations/sqlite/0002_messages.sql"),
    include_str!("../../migrations/sqlite/0003_delivery.sql"),
    include_str!("../../migrations/sqlite/0004_lean_messages.sql"),
    include_str!("../../migrations/sqlite/0005_shared_audiences.sql"),
    include_str!("../../migrations/sqlite/0006_change_seq.sql"),
    include_str!("../../migrations/sqlite/0007_teams.sql"),
    include_str!("../../migrations/sqlite/0008_callbacks.sql"),
];

/// The database file inside a data directory.
pub const DB_FILE: &str = "qunfa.sqlite3";

#[derive(Clone, Debug)]
pub struct SqliteOptions {
    /// `PRAGMA synchronous=FULL` (survives power loss) rather than NORMAL (survives a crash).
    pub synchronous_full: bool,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            synchronous_full: true,
        }
    }
}

pub struct SqliteStore {
    db: Db,
    msgids: std::sync::Arc<messages::MsgidSeq>,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating if needed) `DATA_DIR/qunfa.sqlite3`. A data directory qunfa creates is
    /// readable by its owner only.
    pub fn open_dir(data_dir: &Path, opts: &SqliteOptions) -> StoreResult<SqliteStore> {
        if !data_dir.exists() {
            let mut b = std::fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
            b.create(data_dir).map_err(|e| {
                internal(format!(
                    "cannot create data dir {}: {e}",
                    data_dir.display()
                ))
            })?;
        }
        Self::open(&data_dir.join(DB_FILE), opts)
    }

    /// Opens (creating if needed) a database file. It holds the apps' secrets, so it is made
    /// readable and writable by its owner only (0600), and SQLite gives its `-wal` and `-shm`
    /// files the same mode.
    pub fn open(path: &Path, opts: &SqliteOptions) -> StoreResult<SqliteStore> {
        private_file(path)?;
        let db = Db::open(path, opts.synchronous_full, MIGRATIONS)?;
        Ok(SqliteStore {
            db,
            msgids: Default::default(),
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// This deployment's identity (random, made by the first migration).
    pub async fn deployment_id(&self) -> StoreResult<String> {
        self.db
            .read(|c| {
                c.query_row(
                    "SELECT value FROM meta WHERE key = 'deployment_id'",
                    [],
                    |r| r.get(0),
                )
                .map_err(internal)
            })
            .await
    }
}

impl Store for SqliteStore {
    fn is_shared(&self) -> bool {
        // One server per data directory (serve.lock); `qunfa app` beside it only touches apps,
        // which the server re-reads on its own.
        false
    }
}

/// Creates `path` empty with mode 0600 if it is not there, and takes group and other access
/// away from an existing one (created by an earlier version with the default umask).
fn private_file(path: &Path) -> StoreResult<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let cannot = |e: std::io::Error| internal(format!("cannot open {}: {e}", path.display()));
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(cannot)?;
        for p in [
            path.to_owned(),
            sibling(path, "-wal"),
            sibling(path, "-shm"),
        ] {
            if let Ok(meta) = std::fs::metadata(&p)
                && meta.permissions().mode() & 0o077 != 0
            {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))
                    .map_err(cannot)?;
            }
        }
    }
    Ok(())
}

#[cfg(unix)]
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Empty strings are stored as NULL: "set to empty" and "never set" read back the same.
pub(crate) fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

pub(crate) fn exists(conn: &Connection, sql: &str, app: AppId, key: &str) -> StoreResult<bool> {
    let mut st = conn.prepare_cached(sql).map_err(internal)?;
    st.exists(params![app.0, key]).map_err(internal)
}

pub(crate) fn first_string(
    conn: &Connection,
    sql: &str,
    app: AppId,
    key: &str,
) -> StoreResult<Option<String>> {
    let mut st = conn.prepare_cached(sql).map_err(internal)?;
    st.query_row(params![app.0, key], |r| r.get(0))
        .optional()
        .map_err(internal)
}

/// Bumps the app's change sequence inside the current write and answers the new value, which
/// the write stamps on what it changed. One writer thread, so sequence order is commit order.
pub(crate) fn next_change(c: &Connection, app: AppId) -> StoreResult<i64> {
    let mut st = c
        .prepare_cached(
            "UPDATE apps SET change_seq = change_seq + 1 WHERE id = ?1 RETURNING change_seq",
        )
        .map_err(internal)?;
    st.query_row([app.0], |r| r.get(0)).map_err(internal)
}
