//! The conformance suite against the SQLite backend, each test on its own database file.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use qunfa_core::Store;
use qunfa_store::{SqliteOptions, SqliteStore};

async fn fresh() -> Arc<dyn Store> {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open_dir(dir.path(), &SqliteOptions::default()).expect("open sqlite");
    // The directory must outlive the store; tests are short, so leak it rather than plumb it.
    std::mem::forget(dir);
    Arc::new(store)
}

qunfa_store::store_conformance_suite!(fresh());
