use qunfa_core::account::{AccountPatch, Profile, hash_token};
use qunfa_core::dict::Enterptype;
use qunfa_core::ids::Ordinal;
use qunfa_core::store::{Credentials, Store, StoreError};

use super::{acc, accid, area};

pub async fn accounts_get_dense_ordinals_and_fail_alone(s: &dyn Store) {
    let app = s.create_app("a").await.unwrap().id;
    s.create_area(app, area("37", None)).await.unwrap();
    let r = s
        .create_accounts(
            app,
            vec![
                acc("u0", Some("37"), None),
                acc("u1", Some("99"), None),
                acc("u2", None, None),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        r,
        vec![
            Ok(Ordinal(0)),
            Err(StoreError::UnknownArea("99".into())),
            Ok(Ordinal(1))
        ]
    );
    let r = s
        .create_accounts(app, vec![acc("u2", None, None), acc("u3", None, Some("x"))])
        .await
        .unwrap();
    assert_eq!(
        r,
        vec![
            Err(StoreError::AlreadyRegistered),
            Err(StoreError::UnknownEnterptype("x".into()))
        ]
    );
    let r = s
        .create_accounts(app, vec![acc("u4", None, None), acc("u4", None, None)])
        .await
        .unwrap();
    assert_eq!(r, vec![Ok(Ordinal(2)), Err(StoreError::AlreadyRegistered)]);

    let got = s
        .get_accounts(app, &[accid("u2"), accid("zz"), accid("u0")])
        .await
        .unwrap();
    assert_eq!(
        got.iter().map(|a| a.accid.as_str()).collect::<Vec<_>>(),
        ["u2", "u0"]
    );
    assert_eq!(got[1].ordinal, Ordinal(0));
    assert_eq!(got[1].profile.areaid.as_deref(), Some("37"));
    assert_eq!(got[1].profile.name.as_deref(), Some("name of u0"));
    assert_eq!(got[1].profile.gender, Some(0));
    assert_eq!(
        s.credentials(app, &accid("u0")).await.unwrap(),
        Some(Credentials {
            ordinal: Ordinal(0),
            token_hash: hash_token(&accid("u0"), "t"),
            blocked: false,
            kick_seq: 0,
        })
    );
    assert_eq!(s.credentials(app, &accid("zz")).await.unwrap(), None);
    assert_eq!(
        s.accids_of(app, vec![Ordinal(2), Ordinal(0), Ordinal(9), Ordinal(2)])
            .await
            .unwrap(),
        [(Ordinal(0), accid("u0")), (Ordinal(2), accid("u4"))]
    );
}

pub async fn account_updates(s: &dyn Store) {
    let app = s.create_app("a").await.unwrap().id;
    s.create_area(app, area("37", None)).await.unwrap();
    s.create_enterptype(
        app,
        Enterptype {
            enterptypeid: "t1".into(),
            name: "T".into(),
        },
    )
    .await
    .unwrap();
    s.create_accounts(app, vec![acc("u", None, None)])
        .await
        .unwrap();
    let mut p = Profile::default();
    p.set("areaid", "37".into()).unwrap();
    p.set("enterptypeid", "t1".into()).unwrap();
    p.set("sign", "hi".into()).unwrap();
    p.set("name", "".into()).unwrap();
    let patch = AccountPatch {
        profile: p,
        blocked: Some(true),
        token_hash: Some([7; 32]),
        kick: None,
    };
    s.update_account(app, &accid("u"), patch).await.unwrap();
    let a = &s.get_accounts(app, &[accid("u")]).await.unwrap()[0];
    assert_eq!(a.profile.areaid.as_deref(), Some("37"));
    assert_eq!(a.profile.enterptypeid.as_deref(), Some("t1"));
    assert_eq!(a.profile.sign.as_deref(), Some("hi"));
    assert_eq!(a.profile.name, None, "empty string clears");
    assert!(a.blocked);
    let c = s.credentials(app, &accid("u")).await.unwrap().unwrap();
    assert_eq!((c.token_hash, c.blocked), ([7; 32], true));

    let mut bad = Profile::default();
    bad.set("areaid", "nope".into()).unwrap();
    bad.set("sign", "changed".into()).unwrap();
    let before = s.head(app).await.unwrap();
    let r = s
        .update_account(
            app,
            &accid("u"),
            AccountPatch {
                profile: bad,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(r, Err(StoreError::UnknownArea("nope".into())));
    let a = &s.get_accounts(app, &[accid("u")]).await.unwrap()[0];
    assert_eq!(
        a.profile.sign.as_deref(),
        Some("hi"),
        "a refused update changes nothing"
    );
    assert_eq!(
        s.head(app).await.unwrap(),
        before,
        "nor the change sequence"
    );

    let r = s
        .update_account(app, &accid("ghost"), AccountPatch::default())
        .await;
    assert_eq!(r, Err(StoreError::NotRegistered("ghost".into())));
    s.update_account(app, &accid("u"), AccountPatch::default())
        .await
        .unwrap();

    let idx = s.index_entries(app).await.unwrap();
    assert_eq!(idx.len(), 1);
    assert_eq!(idx[0].areaid.as_deref(), Some("37"));
    assert!(idx[0].blocked);
}

/// How another node's audience index follows account writes.
pub async fn account_changes_follow_change_seq(s: &dyn Store) {
    let app = s.create_app("a").await.unwrap().id;
    s.create_area(app, area("37", None)).await.unwrap();
    let start = s.head(app).await.unwrap().change_seq;
    s.create_accounts(app, vec![acc("a", None, None), acc("b", None, None)])
        .await
        .unwrap();
    let after_create = s.head(app).await.unwrap().change_seq;
    let changed = s.account_changes(app, start).await.unwrap();
    assert_eq!(
        changed.iter().map(|e| e.accid.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert!(changed.iter().all(|e| e.seq == after_create));
    assert!(
        s.account_changes(app, after_create)
            .await
            .unwrap()
            .is_empty()
    );

    let mut p = Profile::default();
    p.set("areaid", "37".into()).unwrap();
    s.update_account(
        app,
        &accid("b"),
        AccountPatch {
            profile: p,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let changed = s.account_changes(app, after_create).await.unwrap();
    assert_eq!(changed.len(), 1);
    assert_eq!(
        (
            changed[0].accid.as_str(),
            changed[0].ordinal,
            changed[0].areaid.as_deref()
        ),
        ("b", Ordinal(1), Some("37"))
    );
    assert!(changed[0].seq > after_create);
    assert_eq!(changed[0].kicked, None);
}

pub async fn kicks_are_recorded_with_their_seq(s: &dyn Store) {
    let app = s.create_app("a").await.unwrap().id;
    s.create_accounts(app, vec![acc("u", None, None)])
        .await
        .unwrap();
    let before = s.head(app).await.unwrap().change_seq;
    s.update_account(
        app,
        &accid("u"),
        AccountPatch {
            blocked: Some(true),
            kick: Some("blocked".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let seq = s.head(app).await.unwrap().change_seq;
    let changed = s.account_changes(app, before).await.unwrap();
    assert_eq!(changed[0].kicked, Some((seq, "blocked".to_owned())));
    assert!(changed[0].blocked);
    assert_eq!(
        s.credentials(app, &accid("u"))
            .await
            .unwrap()
            .unwrap()
            .kick_seq,
        seq
    );
    // A later write that kicks nobody keeps the record of the last kick.
    s.update_account(
        app,
        &accid("u"),
        AccountPatch {
            blocked: Some(false),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let changed = s.account_changes(app, seq).await.unwrap();
    assert_eq!(changed[0].kicked, Some((seq, "blocked".to_owned())));
    assert!(!changed[0].blocked);
}

pub async fn apps_are_isolated(s: &dyn Store) {
    let a = s.create_app("a").await.unwrap().id;
    let b = s.create_app("b").await.unwrap().id;
    s.create_area(a, area("37", None)).await.unwrap();
    s.create_accounts(a, vec![acc("u", None, None)])
        .await
        .unwrap();
    assert!(s.get_accounts(b, &[accid("u")]).await.unwrap().is_empty());
    assert!(s.list_areas(b).await.unwrap().is_empty());
    assert_eq!(
        s.create_accounts(b, vec![acc("u", Some("37"), None)])
            .await
            .unwrap(),
        vec![Err(StoreError::UnknownArea("37".into()))]
    );
    assert_eq!(
        s.create_accounts(b, vec![acc("u", None, None)])
            .await
            .unwrap(),
        vec![Ok(Ordinal(0))],
        "ordinals are per app"
    );
    assert_eq!(
        s.delete_area(b, "37").await,
        Err(StoreError::NotFound("areaid 37".into()))
    );
    assert!(s.account_changes(b, 0).await.unwrap().len() == 1);
}

pub async fn accounts_are_searched_by_accid_prefix_in_byte_order(s: &dyn Store) {
    let app = s.create_app("a").await.unwrap().id;
    let other = s.create_app("b").await.unwrap().id;
    let ids = [
        "zhang.b", "zhang_a", "zhang-c", "zhang", "zhao", "li@x", "zha", "zhang0",
    ];
    let r = s
        .create_accounts(app, ids.iter().map(|i| acc(i, None, None)).collect())
        .await
        .unwrap();
    assert!(r.iter().all(Result::is_ok), "{r:?}");
    s.create_accounts(other, vec![acc("zhang.other", None, None)])
        .await
        .unwrap();
    s.update_account(
        app,
        &accid("zhang_a"),
        AccountPatch {
            blocked: Some(true),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let names = |v: &[qunfa_core::account::Account]| {
        v.iter()
            .map(|a| a.accid.as_str().to_owned())
            .collect::<Vec<_>>()
    };

    // Byte order: '-' < '.' < '0' < '_'.
    let got = s.search_accounts(app, "zhang", None, 10).await.unwrap();
    assert_eq!(
        names(&got),
        ["zhang", "zhang-c", "zhang.b", "zhang0", "zhang_a"]
    );
    assert!(got[4].blocked, "the whole account is answered");
    assert_eq!(got[4].profile.name.as_deref(), Some("name of zhang_a"));
    assert!(!got[0].blocked);

    // Pages follow on from the last accid of the previous one.
    let first = s.search_accounts(app, "zhang", None, 2).await.unwrap();
    assert_eq!(names(&first), ["zhang", "zhang-c"]);
    let next = s
        .search_accounts(app, "zhang", Some(&accid("zhang-c")), 2)
        .await
        .unwrap();
    assert_eq!(names(&next), ["zhang.b", "zhang0"]);
    let last = s
        .search_accounts(app, "zhang", Some(&accid("zhang0")), 2)
        .await
        .unwrap();
    assert_eq!(names(&last), ["zhang_a"]);
    let none = s
        .search_accounts(app, "zhang", Some(&accid("zhang_a")), 2)
        .await
        .unwrap();
    assert!(none.is_empty());

    // '_' and '.' are themselves, not wildcards; an empty prefix lists everyone.
    assert_eq!(
        names(&s.search_accounts(app, "zhang_", None, 10).await.unwrap()),
        ["zhang_a"]
    );
    assert_eq!(
        names(&s.search_accounts(app, "zh", None, 3).await.unwrap()),
        ["zha", "zhang", "zhang-c"]
    );
    assert_eq!(
        names(&s.search_accounts(app, "", None, 100).await.unwrap()),
        [
            "li@x", "zha", "zhang", "zhang-c", "zhang.b", "zhang0", "zhang_a", "zhao"
        ]
    );
    assert!(
        s.search_accounts(app, "q", None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        names(&s.search_accounts(other, "zhang", None, 10).await.unwrap()),
        ["zhang.other"],
        "apps are isolated"
    );
}
