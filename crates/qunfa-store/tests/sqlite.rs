//! The conformance suite against the SQLite backend, each test on its own database file.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use qunfa_core::Store;
use qunfa_core::account::Accid;
use qunfa_core::audience;
use qunfa_core::ids::{MsgId, Ordinal};
use qunfa_core::message::{MsgKind, NewMessage};
use qunfa_core::store::{AppStore, MessageStore};
use qunfa_store::{SqliteOptions, SqliteStore};

async fn fresh() -> Arc<dyn Store> {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open_dir(dir.path(), &SqliteOptions::default()).expect("open sqlite");
    // The directory must outlive the store; tests are short, so leak it rather than plumb it.
    std::mem::forget(dir);
    Arc::new(store)
}

qunfa_store::store_conformance_suite!(fresh());

/// SQLite-specific: an audience is stored once per app, whatever number of messages share it.
#[tokio::test]
async fn equal_audiences_are_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path(), &SqliteOptions::default()).unwrap();
    let app = store.create_app("a").await.unwrap().id;
    let mass = |members: &[u32]| {
        let bits: roaring::RoaringBitmap = members.iter().copied().collect();
        let mut m = NewMessage::new(
            MsgKind::Mass,
            Accid::parse("sys", "from").unwrap(),
            0,
            "{}".into(),
        );
        m.audience = Some(audience::encode(&bits));
        m
    };
    let sent = store
        .store_messages(
            app,
            vec![mass(&[1, 2, 3]), mass(&[1, 2, 3]), mass(&[4])],
            1,
            0,
        )
        .await
        .unwrap();
    for (s, want) in sent.iter().zip([vec![1, 2, 3], vec![1, 2, 3], vec![4]]) {
        let blob = store.message_audience(app, s.msgid).await.unwrap().unwrap();
        assert_eq!(
            audience::decode(&blob).unwrap().iter().collect::<Vec<_>>(),
            want
        );
    }
    assert_eq!(
        store
            .user_messages(app, Ordinal(2), MsgId(0), 10, 1)
            .await
            .unwrap()
            .len(),
        2
    );
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM audiences", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
}

/// The database holds the apps' secrets: its files are for their owner only, and so is a data
/// directory qunfa creates. A file made readable by an earlier version is fixed at open.
#[cfg(unix)]
#[tokio::test]
async fn data_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("qunfa-data");
    let store = SqliteStore::open_dir(&dir, &SqliteOptions::default()).unwrap();
    store.create_app("a").await.unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        assert_eq!(mode(&p), 0o600, "{}", p.display());
        files += 1;
    }
    assert!(files >= 2, "the database and its WAL");
    drop(store);
    let db = dir.join(qunfa_store::sqlite::DB_FILE);
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let _again = SqliteStore::open_dir(&dir, &SqliteOptions::default()).unwrap();
    assert_eq!(mode(&db), 0o600);
}
