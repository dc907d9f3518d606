use qunfa_core::ids::MsgId;
use qunfa_core::store::{Store, StoreError};

use super::{acc, area, mass};

pub async fn apps(s: &dyn Store) {
    let a = s.create_app("first").await.unwrap();
    let b = s.create_app("second").await.unwrap();
    assert_eq!(a.appkey.len(), 32);
    assert_ne!(a.appkey, b.appkey);
    assert_ne!(a.secret, b.secret);
    assert_eq!(s.list_apps().await.unwrap(), vec![a.clone(), b.clone()]);
    assert_eq!(s.app_by_key(&a.appkey).await.unwrap(), Some(a.clone()));
    assert_eq!(s.app_by_key("nope").await.unwrap(), None);
    let d = s.set_app_disabled(&b.appkey, true).await.unwrap();
    assert!(d.disabled);
    assert!(s.app_by_key(&b.appkey).await.unwrap().unwrap().disabled);
    assert!(matches!(
        s.set_app_disabled("nope", true).await,
        Err(StoreError::NotFound(_))
    ));
}

/// Nodes starting together on a fresh store must create one first app between them.
pub async fn bootstrap_creates_exactly_one_app(s: &dyn Store) {
    let tries = (0..8).map(|_| s.bootstrap_app("default"));
    let made: Vec<_> = futures_util::future::join_all(tries)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let created: Vec<_> = made.into_iter().flatten().collect();
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(s.list_apps().await.unwrap(), created);
    assert_eq!(s.bootstrap_app("again").await.unwrap(), None);
}

pub async fn heads_follow_messages_and_changes(s: &dyn Store) {
    let app = s.create_app("a").await.unwrap().id;
    let other = s.create_app("b").await.unwrap().id;
    let h0 = s.head(app).await.unwrap();
    assert_eq!((h0.app, h0.last_msgid), (app, MsgId(0)));
    s.create_area(app, area("37", None)).await.unwrap();
    let h1 = s.head(app).await.unwrap();
    assert!(h1.change_seq > h0.change_seq && h1.dict_seq == h1.change_seq);
    s.create_accounts(app, vec![acc("u", Some("37"), None)])
        .await
        .unwrap();
    let h2 = s.head(app).await.unwrap();
    assert!(h2.change_seq > h1.change_seq);
    assert_eq!(
        h2.dict_seq, h1.dict_seq,
        "an account write is not a dictionary write"
    );
    s.set_words(app, vec!["x".into()]).await.unwrap();
    let h3 = s.head(app).await.unwrap();
    assert!(h3.change_seq > h2.change_seq && h3.words_seq == h3.change_seq);
    let sent = s
        .store_messages(app, vec![mass("sys", &[0], None)], 1, 0)
        .await
        .unwrap();
    let h4 = s.head(app).await.unwrap();
    assert_eq!(h4.last_msgid, sent[0].msgid);
    assert_eq!(h4.change_seq, h3.change_seq, "a message is not a change");
    let heads = s.heads().await.unwrap();
    assert_eq!(heads.len(), 2);
    assert_eq!(heads.iter().find(|h| h.app == app), Some(&h4));
    let o = heads.iter().find(|h| h.app == other).unwrap();
    assert_eq!((o.last_msgid, o.change_seq), (MsgId(0), 0));
    assert!(matches!(
        s.head(qunfa_core::ids::AppId(987_654)).await,
        Err(StoreError::NotFound(_))
    ));
}
