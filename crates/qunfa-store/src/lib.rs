//! Storage backends for qunfa. Each implements `qunfa_core::Store` and passes the shared
//! conformance suite (feature `testsuite`). [`open`] picks one from a URL: the embedded SQLite
//! database by default, PostgreSQL (shared by several nodes) for `postgres://`.

#[cfg(feature = "testsuite")]
pub mod conformance;
pub mod postgres;
pub mod sqlite;
#[cfg(feature = "testsuite")]
pub mod testing;
pub mod transfer;

use std::path::PathBuf;
use std::sync::Arc;

use qunfa_core::Store;
use qunfa_core::admission::Admission;
use qunfa_core::ratelimit::Limits;
use qunfa_core::store::{StoreError, StoreResult};

/// The histogram of the writers' group commits (label `backend`: sqlite, postgres).
pub const COMMIT_METRIC: &str = "qunfa_store_commit_duration_seconds";

pub use postgres::{PgAdmission, PgStore};
pub use sqlite::{SqliteOptions, SqliteStore};

/// What [`open`] needs besides the URL.
#[derive(Clone, Debug)]
pub struct Options {
    /// Where the embedded database lives when the URL is empty.
    pub data_dir: PathBuf,
    /// SQLite `synchronous = FULL`.
    pub synchronous_full: bool,
    /// PostgreSQL connections to keep.
    pub pool_size: usize,
    /// For a shared backend's admission state: the CurTime window and the rate limits.
    pub curtime_window_secs: i64,
    pub limits: Limits,
}

/// An opened backend.
pub struct Backend {
    pub store: Arc<dyn Store>,
    /// The same backend read as a migration source, if it can be.
    pub source: Option<Arc<dyn transfer::Source>>,
    /// The same backend written as a migration target, if it can be.
    pub sink: Option<Arc<dyn transfer::Sink>>,
    /// The replay window and rate limits, when the backend shares them across nodes
    /// (`None`: one node keeps them in memory).
    pub admission: Option<Arc<dyn Admission>>,
    /// What was opened, for logs (never a password).
    pub describe: String,
    /// The data directory, when the backend is the embedded one.
    pub embedded: Option<PathBuf>,
}

/// Opens the backend `url` names: empty for SQLite in `opts.data_dir`, `sqlite:PATH` for a
/// SQLite file elsewhere, `postgres://USER@HOST[:PORT]/DB[?schema=NAME]` (or `postgresql://`)
/// for PostgreSQL, whose backend also carries the shared admission state.
pub async fn open(url: &str, opts: &Options) -> StoreResult<Backend> {
    let url = url.trim();
    let sqlite = SqliteOptions {
        synchronous_full: opts.synchronous_full,
    };
    let embedded = |store: SqliteStore, dir: Option<PathBuf>| {
        let store = Arc::new(store);
        Backend {
            describe: format!("sqlite {}", store.path().display()),
            source: Some(store.clone()),
            sink: None,
            store,
            admission: None,
            embedded: dir,
        }
    };
    if url.is_empty() {
        let store = SqliteStore::open_dir(&opts.data_dir, &sqlite)?;
        return Ok(embedded(store, Some(opts.data_dir.clone())));
    }
    if let Some(path) = url.strip_prefix("sqlite:") {
        let path = PathBuf::from(path.trim_start_matches("//"));
        let store = SqliteStore::open(&path, &sqlite)?;
        return Ok(embedded(store, path.parent().map(|p| p.to_owned())));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return postgres::open(url, opts).await;
    }
    Err(StoreError::Internal(format!(
        "store.url {url:?}: expected empty (embedded SQLite), sqlite:PATH or postgres://USER@HOST/DB"
    )))
}
