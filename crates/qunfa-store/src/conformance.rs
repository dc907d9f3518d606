//! The behaviour every `Store` backend must show. A backend runs it with
//! `qunfa_store::store_conformance_suite!(async { ... make a fresh store ... });`

#![allow(clippy::unwrap_used)] // a test suite: a failed unwrap is a failed check
use qunfa_core::account::{Accid, AccountPatch, NewAccount, Profile, hash_token};
use qunfa_core::audience;
use qunfa_core::dict::{Area, Enterptype};
use qunfa_core::message::{BroadcastFilter, MsgKind, NewMessage};
use qunfa_core::store::{SessionQuery, Store, StoreError};

fn acc(id: &str, areaid: Option<&str>, t: Option<&str>) -> NewAccount {
    let accid = Accid::parse(id, "accid").expect("test accid is valid");
    NewAccount {
        token_hash: hash_token(&accid, "t"),
        accid,
        profile: Profile {
            name: Some(format!("name of {id}")),
            areaid: areaid.map(str::to_owned),
            enterptypeid: t.map(str::to_owned),
            ..Profile::default()
        },
    }
}

fn area(id: &str, parent: Option<&str>) -> Area {
    Area {
        areaid: id.into(),
        name: format!("area {id}"),
        parentid: parent.map(str::to_owned),
    }
}

fn accid(s: &str) -> Accid {
    Accid::parse(s, "accid").expect("test accid is valid")
}

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
        vec![Ok(0), Err(StoreError::UnknownArea("99".into())), Ok(1)]
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
    assert_eq!(r, vec![Ok(2), Err(StoreError::AlreadyRegistered)]);

    let got = s
        .get_accounts(app, &[accid("u2"), accid("zz"), accid("u0")])
        .await
        .unwrap();
    assert_eq!(
        got.iter().map(|a| a.accid.as_str()).collect::<Vec<_>>(),
        ["u2", "u0"]
    );
    assert_eq!(got[1].profile.areaid.as_deref(), Some("37"));
    assert_eq!(got[1].profile.name.as_deref(), Some("name of u0"));
    assert_eq!(got[1].profile.gender, Some(0));
    assert_eq!(
        s.token_hash(app, &accid("u0")).await.unwrap(),
        Some(hash_token(&accid("u0"), "t"))
    );
    assert_eq!(s.token_hash(app, &accid("zz")).await.unwrap(), None);
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
    };
    s.update_account(app, &accid("u"), patch).await.unwrap();
    let a = &s.get_accounts(app, &[accid("u")]).await.unwrap()[0];
    assert_eq!(a.profile.areaid.as_deref(), Some("37"));
    assert_eq!(a.profile.enterptypeid.as_deref(), Some("t1"));
    assert_eq!(a.profile.sign.as_deref(), Some("hi"));
    assert_eq!(a.profile.name, None, "empty string clears");
    assert!(a.blocked);
    assert_eq!(s.token_hash(app, &accid("u")).await.unwrap(), Some([7; 32]));

    let mut bad = Profile::default();
    bad.set("areaid", "nope".into()).unwrap();
    bad.set("sign", "changed".into()).unwrap();
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

pub async fn area_tree_rules(s: &dyn Store) {
    let app = s.create_app("a").await.unwrap().id;
    s.create_area(app, area("37", None)).await.unwrap();
    s.create_area(app, area("3701", Some("37"))).await.unwrap();
    s.create_area(app, area("370102", Some("3701")))
        .await
        .unwrap();
    assert_eq!(
        s.create_area(app, area("37", None)).await,
        Err(StoreError::AlreadyExists("areaid 37".into()))
    );
    assert_eq!(
        s.create_area(app, area("x", Some("zz"))).await,
        Err(StoreError::UnknownParent("zz".into()))
    );
    assert_eq!(
        s.update_area(app, "37", None, Some(Some("370102".into())))
            .await,
        Err(StoreError::Cycle("370102".into()))
    );
    assert_eq!(
        s.update_area(app, "37", None, Some(Some("37".into())))
            .await,
        Err(StoreError::Cycle("37".into()))
    );
    assert_eq!(
        s.update_area(app, "37", None, Some(Some("zz".into())))
            .await,
        Err(StoreError::UnknownParent("zz".into()))
    );
    assert_eq!(
        s.update_area(app, "zz", Some("n".into()), None).await,
        Err(StoreError::NotFound("areaid zz".into()))
    );
    s.update_area(app, "370102", Some("Lixia".into()), Some(Some("37".into())))
        .await
        .unwrap();
    assert_eq!(
        s.delete_area(app, "37").await,
        Err(StoreError::InUse(
            "areaid 37 is the parent of area 3701".into()
        ))
    );
    s.create_accounts(app, vec![acc("u", Some("3701"), None)])
        .await
        .unwrap();
    s.update_area(app, "370102", None, Some(None))
        .await
        .unwrap();
    assert_eq!(
        s.delete_area(app, "3701").await,
        Err(StoreError::InUse("areaid 3701 is used by account u".into()))
    );
    s.delete_area(app, "370102").await.unwrap();
    assert_eq!(
        s.delete_area(app, "370102").await,
        Err(StoreError::NotFound("areaid 370102".into()))
    );
    assert_eq!(
        s.list_areas(app).await.unwrap(),
        vec![area("37", None), area("3701", Some("37"))]
    );
}

pub async fn enterptype_rules(s: &dyn Store) {
    let app = s.create_app("a").await.unwrap().id;
    let t = |id: &str, n: &str| Enterptype {
        enterptypeid: id.into(),
        name: n.into(),
    };
    s.create_enterptype(app, t("1", "food")).await.unwrap();
    assert_eq!(
        s.create_enterptype(app, t("1", "x")).await,
        Err(StoreError::AlreadyExists("enterptypeid 1".into()))
    );
    s.update_enterptype(app, "1", "food & drink".into())
        .await
        .unwrap();
    assert_eq!(
        s.update_enterptype(app, "2", "x".into()).await,
        Err(StoreError::NotFound("enterptypeid 2".into()))
    );
    s.create_accounts(app, vec![acc("u", None, Some("1"))])
        .await
        .unwrap();
    assert_eq!(
        s.delete_enterptype(app, "1").await,
        Err(StoreError::InUse(
            "enterptypeid 1 is used by account u".into()
        ))
    );
    assert_eq!(
        s.list_enterptypes(app).await.unwrap(),
        vec![t("1", "food & drink")]
    );
    s.create_enterptype(app, t("2", "steel")).await.unwrap();
    s.delete_enterptype(app, "2").await.unwrap();
    assert_eq!(
        s.delete_enterptype(app, "2").await,
        Err(StoreError::NotFound("enterptypeid 2".into()))
    );
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
        vec![Ok(0)],
        "ordinals are per app"
    );
    assert_eq!(
        s.delete_area(b, "37").await,
        Err(StoreError::NotFound("areaid 37".into()))
    );
}

fn p2p(from: &str, to: &str, ordinal: u32, text: &str) -> NewMessage {
    let mut m = NewMessage::new(
        MsgKind::P2p,
        accid(from),
        0,
        format!("{{\"msg\":\"{text}\"}}"),
    );
    m.to = Some(accid(to));
    m.to_ordinal = Some(ordinal);
    m
}

fn mass(from: &str, members: &[u32], key: Option<&str>) -> NewMessage {
    let bitmap = members.iter().copied().collect();
    let mut m = NewMessage::new(MsgKind::Mass, accid(from), 100, "{}".into());
    m.audience = Some(audience::encode(&bitmap));
    m.recipients = members.len() as u64;
    m.msgidclient = key.map(str::to_owned);
    m
}

pub async fn messages_get_increasing_msgids_and_reach_their_audience(s: &dyn Store) {
    let app = s.create_app("a").await.unwrap().id;
    let other = s.create_app("b").await.unwrap().id;
    let sent = s
        .store_messages(
            app,
            vec![
                p2p("a", "b", 1, "one"),
                mass("sys", &[0, 1, 2], None),
                p2p("b", "a", 0, "two"),
            ],
            1000,
            0,
            Box::new(|_| {}),
        )
        .await
        .unwrap();
    let ids: Vec<i64> = sent.iter().map(|x| x.msgid).collect();
    assert!(ids[0] > 0 && ids[0] < ids[1] && ids[1] < ids[2], "{ids:?}");
    assert_eq!(sent[1].recipients, 3);
    assert!(sent.iter().all(|x| x.timetag == 1000 && !x.duplicate));
    let later = s
        .store_messages(
            app,
            vec![mass("sys", &[2], None)],
            2000,
            0,
            Box::new(|_| {}),
        )
        .await
        .unwrap();
    assert!(later[0].msgid > ids[2]);
    // Each app counts on its own.
    assert_eq!(
        s.store_messages(other, vec![p2p("x", "y", 0, "z")], 1, 0, Box::new(|_| {}))
            .await
            .unwrap()[0]
            .msgid,
        1
    );

    let ids_for = |ordinal: u32, after: i64, limit: usize| async move {
        s.user_messages(app, ordinal, after, limit, 5000)
            .await
            .unwrap()
            .iter()
            .map(|m| m.msgid)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids_for(1, 0, 100).await, vec![ids[0], ids[1]]);
    assert_eq!(ids_for(0, 0, 100).await, vec![ids[1], ids[2]]);
    assert_eq!(ids_for(2, 0, 100).await, vec![ids[1], later[0].msgid]);
    assert_eq!(ids_for(2, ids[1], 100).await, vec![later[0].msgid]);
    assert_eq!(ids_for(1, 0, 1).await, vec![ids[0]]);
    assert_eq!(ids_for(7, 0, 100).await, Vec::<i64>::new());
    assert!(
        s.user_messages(other, 1, 0, 100, 5000)
            .await
            .unwrap()
            .is_empty()
    );

    let m = s.message(app, ids[0]).await.unwrap().unwrap();
    assert_eq!(
        (m.from.as_str(), m.to.as_deref(), m.body.as_str()),
        ("a", Some("b"), r#"{"msg":"one"}"#)
    );
    let bits = audience::decode(&s.message_audience(app, ids[1]).await.unwrap().unwrap()).unwrap();
    assert_eq!(bits.iter().collect::<Vec<_>>(), [0, 1, 2]);
    assert_eq!(s.message(app, 999).await.unwrap(), None);

    let mut keyed = p2p("a", "b", 1, "keyed");
    keyed.msgidclient = Some("c-1".into());
    let k = s
        .store_messages(app, vec![keyed], 3000, 0, Box::new(|_| {}))
        .await
        .unwrap()[0]
        .msgid;
    assert_eq!(
        s.message_by_client(app, "c-1")
            .await
            .unwrap()
            .map(|m| m.msgid),
        Some(k)
    );
    assert_eq!(s.message_by_client(app, "c-2").await.unwrap(), None);
    assert_eq!(s.message_by_client(other, "c-1").await.unwrap(), None);
}

pub async fn mass_sends_are_idempotent_by_msgidclient(s: &dyn Store) {
    let app = s.create_app("a").await.unwrap().id;
    let first = s
        .store_messages(
            app,
            vec![mass("sys", &[0], Some("k1"))],
            1000,
            0,
            Box::new(|_| {}),
        )
        .await
        .unwrap()[0]
        .clone();
    let again = s
        .store_messages(
            app,
            vec![mass("sys", &[0, 1], Some("k1"))],
            2000,
            500,
            Box::new(|_| {}),
        )
        .await
        .unwrap()[0]
        .clone();
    assert_eq!(
        again,
        qunfa_core::message::Sent {
            duplicate: true,
            ..first.clone()
        }
    );
    // Outside the window the key is free again.
    let later = s
        .store_messages(
            app,
            vec![mass("sys", &[0, 1], Some("k1"))],
            9000,
            1500,
            Box::new(|_| {}),
        )
        .await
        .unwrap()[0]
        .clone();
    assert!(!later.duplicate && later.msgid > first.msgid && later.recipients == 2);
    assert_eq!(
        s.mass_messages(app, None, 10)
            .await
            .unwrap()
            .iter()
            .map(|m| m.msgid)
            .collect::<Vec<_>>(),
        [later.msgid, first.msgid]
    );
    assert_eq!(
        s.mass_messages(app, Some(later.msgid), 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

pub async fn recalled_messages_disappear_and_leave_a_tombstone(s: &dyn Store) {
    let app = s.create_app("a").await.unwrap().id;
    let sent = s
        .store_messages(
            app,
            vec![p2p("a", "b", 1, "oops"), mass("sys", &[1], None)],
            1000,
            0,
            Box::new(|_| {}),
        )
        .await
        .unwrap();
    let mut tomb = NewMessage::new(MsgKind::Recall, accid("a"), 0, "{}".into());
    tomb.to = Some(accid("b"));
    tomb.to_ordinal = Some(1);
    tomb.ref_msgid = Some(sent[0].msgid);
    let t = s
        .recall_message(app, sent[0].msgid, tomb, 1500, Box::new(|_| {}))
        .await
        .unwrap();
    assert!(t.msgid > sent[1].msgid);
    assert_eq!(
        s.message(app, sent[0].msgid)
            .await
            .unwrap()
            .unwrap()
            .recalled_ms,
        Some(1500)
    );
    let got = s.user_messages(app, 1, 0, 100, 2000).await.unwrap();
    assert_eq!(
        got.iter().map(|m| (m.msgid, m.kind)).collect::<Vec<_>>(),
        [(sent[1].msgid, MsgKind::Mass), (t.msgid, MsgKind::Recall)]
    );
    assert_eq!(got[1].ref_msgid, Some(sent[0].msgid));
    let q = SessionQuery {
        a: "a".into(),
        b: "b".into(),
        begin_ms: 0,
        end_ms: 10_000,
        limit: 100,
        ascending: true,
        types: vec![],
        exclude_msgid: None,
    };
    assert!(s.session_messages(app, q).await.unwrap().is_empty());
}

pub async fn broadcasts_expire_and_can_be_deleted(s: &dyn Store) {
    let app = s.create_app("a").await.unwrap().id;
    let mut b = mass("sys", &[0], None);
    b.kind = MsgKind::Broadcast;
    b.body = "hello all".into();
    b.expire_ms = Some(5000);
    let mut online = b.clone();
    online.offline = false;
    let sent = s
        .store_messages(app, vec![b, online], 1000, 0, Box::new(|_| {}))
        .await
        .unwrap();
    assert_eq!(
        s.user_messages(app, 0, 0, 10, 4000).await.unwrap().len(),
        1,
        "only the offline one syncs"
    );
    assert!(
        s.user_messages(app, 0, 0, 10, 5000)
            .await
            .unwrap()
            .is_empty(),
        "expired"
    );
    let all = s
        .broadcasts(app, 0, 10, BroadcastFilter::All)
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|m| m.msgid).collect::<Vec<_>>(),
        [sent[1].msgid, sent[0].msgid]
    );
    assert_eq!(
        s.broadcasts(app, 0, 10, BroadcastFilter::OnlineOnly)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.broadcasts(app, sent[0].msgid, 10, BroadcastFilter::All)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(s.delete_broadcast(app, sent[0].msgid).await.unwrap());
    assert!(!s.delete_broadcast(app, sent[0].msgid).await.unwrap());
    assert_eq!(
        s.broadcasts(app, 0, 10, BroadcastFilter::Offline)
            .await
            .unwrap()
            .len(),
        0
    );
}

pub async fn keyword_lists_are_per_app(s: &dyn Store) {
    let a = s.create_app("a").await.unwrap().id;
    let b = s.create_app("b").await.unwrap().id;
    assert!(s.words(a).await.unwrap().is_empty());
    s.set_words(a, vec!["赌博".into(), "spam".into()])
        .await
        .unwrap();
    s.set_words(a, vec!["赌博".into()]).await.unwrap();
    assert_eq!(s.words(a).await.unwrap(), ["赌博"]);
    assert!(s.words(b).await.unwrap().is_empty());
}

pub async fn cursors_and_readers_are_kept_compactly(s: &dyn Store) {
    let app = s.create_app("a").await.unwrap().id;
    s.create_accounts(
        app,
        vec![
            acc("u0", None, None),
            acc("u1", None, None),
            acc("u2", None, None),
        ],
    )
    .await
    .unwrap();
    s.save_cursors(app, vec![(0, 10), (1, 5)]).await.unwrap();
    s.save_cursors(app, vec![(0, 7), (2, 12)]).await.unwrap();
    let mut d = s.delivered(app, 8).await.unwrap();
    d.sort();
    assert_eq!(d, [0, 2], "a lower cursor never moves one back");
    assert_eq!(s.delivered(app, 13).await.unwrap(), Vec::<u32>::new());
    assert_eq!(s.readers(app, 10).await.unwrap(), None);
    let bits = |v: &[u32]| audience::encode(&v.iter().copied().collect());
    s.add_reads(app, vec![(10, bits(&[0]))]).await.unwrap();
    s.add_reads(app, vec![(10, bits(&[2])), (11, bits(&[1]))])
        .await
        .unwrap();
    let r = audience::decode(&s.readers(app, 10).await.unwrap().unwrap()).unwrap();
    assert_eq!(r.iter().collect::<Vec<_>>(), [0, 2]);
    assert_eq!(
        s.accids_of(app, vec![2, 0, 9, 2]).await.unwrap(),
        [(0, "u0".to_owned()), (2, "u2".to_owned())]
    );
}

pub async fn commit_hooks_run_in_msgid_order(s: &dyn Store) {
    let app = s.create_app("a").await.unwrap().id;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sends = (0..50).map(|i| {
        let seen = seen.clone();
        let msgs = vec![
            p2p("a", "b", 1, &format!("m{i}")),
            mass("sys", &[1, 2], None),
        ];
        s.store_messages(
            app,
            msgs,
            1000,
            0,
            Box::new(move |sent| seen.lock().unwrap().extend(sent.iter().map(|x| x.msgid))),
        )
    });
    let answers = futures_util::future::join_all(sends).await;
    let mut answered: Vec<i64> = answers
        .into_iter()
        .flat_map(|r| r.unwrap())
        .map(|x| x.msgid)
        .collect();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 100);
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "hooks ran out of msgid order: {seen:?}"
    );
    answered.sort();
    assert_eq!(
        answered, seen,
        "each committed message reached its hook once"
    );
}

/// Generates one `#[tokio::test]` per conformance check; `$make` is an async block that yields
/// a fresh, empty store (anything that derefs to `dyn Store`).
#[macro_export]
macro_rules! store_conformance_suite {
    ($make:expr) => {
        $crate::store_conformance_suite!(@tests $make;
            apps,
            accounts_get_dense_ordinals_and_fail_alone,
            account_updates,
            area_tree_rules,
            enterptype_rules,
            apps_are_isolated,
            messages_get_increasing_msgids_and_reach_their_audience,
            mass_sends_are_idempotent_by_msgidclient,
            recalled_messages_disappear_and_leave_a_tombstone,
            broadcasts_expire_and_can_be_deleted,
            keyword_lists_are_per_app,
            cursors_and_readers_are_kept_compactly,
            commit_hooks_run_in_msgid_order
        );
    };
    (@tests $make:expr; $($name:ident),*) => {
        $(
            #[tokio::test]
            async fn $name() {
                let store = $make.await;
                $crate::conformance::$name(&*store).await;
            }
        )*
    };
}
