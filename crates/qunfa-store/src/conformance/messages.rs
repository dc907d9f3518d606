use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use qunfa_core::audience;
use qunfa_core::ids::{MsgId, Ordinal};
use qunfa_core::message::{BroadcastFilter, MsgKind, NewMessage, Sent};
use qunfa_core::store::{SessionQuery, Store};

use super::{accid, mass, p2p};

fn ids(sent: &[Sent]) -> Vec<i64> {
    sent.iter().map(|x| x.msgid.0).collect()
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
        )
        .await
        .unwrap();
    let ids = ids(&sent);
    assert!(ids[0] > 0 && ids[0] < ids[1] && ids[1] < ids[2], "{ids:?}");
    assert_eq!(sent[1].recipients, 3);
    assert!(sent.iter().all(|x| x.timetag == 1000 && !x.duplicate));
    let later = s
        .store_messages(app, vec![mass("sys", &[2], None)], 2000, 0)
        .await
        .unwrap();
    assert!(later[0].msgid.0 > ids[2]);
    // Each app counts on its own.
    assert_eq!(
        s.store_messages(other, vec![p2p("x", "y", 0, "z")], 1, 0)
            .await
            .unwrap()[0]
            .msgid,
        MsgId(1)
    );

    let ids_for = |ordinal: u32, after: i64, limit: usize| async move {
        s.user_messages(app, Ordinal(ordinal), MsgId(after), limit, 5000)
            .await
            .unwrap()
            .iter()
            .map(|m| m.msgid.0)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids_for(1, 0, 100).await, vec![ids[0], ids[1]]);
    assert_eq!(ids_for(0, 0, 100).await, vec![ids[1], ids[2]]);
    assert_eq!(ids_for(2, 0, 100).await, vec![ids[1], later[0].msgid.0]);
    assert_eq!(ids_for(2, ids[1], 100).await, vec![later[0].msgid.0]);
    assert_eq!(ids_for(1, 0, 1).await, vec![ids[0]]);
    assert_eq!(ids_for(7, 0, 100).await, Vec::<i64>::new());
    assert!(
        s.user_messages(other, Ordinal(1), MsgId(0), 100, 5000)
            .await
            .unwrap()
            .is_empty()
    );

    let m = s.message(app, MsgId(ids[0])).await.unwrap().unwrap();
    assert_eq!(
        (
            m.from.as_str(),
            m.to.as_ref().map(|a| a.as_str()),
            m.body.as_str()
        ),
        ("a", Some("b"), r#"{"msg":"one"}"#)
    );
    assert_eq!((m.to_ordinal, m.audience_hash), (Some(Ordinal(1)), None));
    let blob = s
        .message_audience(app, MsgId(ids[1]))
        .await
        .unwrap()
        .unwrap();
    let bits = audience::decode(&blob).unwrap();
    assert_eq!(bits.iter().collect::<Vec<_>>(), [0, 1, 2]);
    let hash = s
        .message(app, MsgId(ids[1]))
        .await
        .unwrap()
        .unwrap()
        .audience_hash;
    assert_eq!(hash, Some(audience::digest(&blob)));
    assert_eq!(
        s.audience(app, audience::digest(&blob)).await.unwrap(),
        Some(blob.clone())
    );
    assert_eq!(
        s.audience(other, audience::digest(&blob)).await.unwrap(),
        None
    );
    assert_eq!(s.message(app, MsgId(999)).await.unwrap(), None);

    let mut keyed = p2p("a", "b", 1, "keyed");
    keyed.msgidclient = Some("c-1".into());
    let k = s.store_messages(app, vec![keyed], 3000, 0).await.unwrap()[0].msgid;
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

/// Live delivery on other nodes reads every message, whatever its kind or state.
pub async fn messages_between_answers_every_kind(s: &dyn Store) {
    let app = s.create_app("a").await.unwrap().id;
    let mut flagged = p2p("a", "b", 1, "bad word");
    flagged.antispam = true;
    let mut online = mass("sys", &[0, 1], None);
    online.kind = MsgKind::Broadcast;
    online.offline = false;
    let sent = s
        .store_messages(
            app,
            vec![
                p2p("a", "b", 1, "hi"),
                flagged,
                mass("sys", &[1], None),
                online,
            ],
            1000,
            0,
        )
        .await
        .unwrap();
    let all = s
        .messages_between(app, MsgId(0), sent[3].msgid, 100)
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|m| m.msgid).collect::<Vec<_>>(),
        sent.iter().map(|x| x.msgid).collect::<Vec<_>>()
    );
    assert!(all[1].antispam);
    assert_eq!(all[3].kind, MsgKind::Broadcast);
    assert!(all[2].audience_hash.is_some() && all[0].audience_hash.is_none());
    let page = s
        .messages_between(app, sent[0].msgid, sent[3].msgid, 2)
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|m| m.msgid).collect::<Vec<_>>(),
        [sent[1].msgid, sent[2].msgid]
    );
    assert!(
        s.messages_between(app, sent[3].msgid, MsgId(sent[3].msgid.0 + 100), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn mass_sends_are_idempotent_by_msgidclient(s: &dyn Store) {
    let app = s.create_app("a").await.unwrap().id;
    let first = s
        .store_messages(app, vec![mass("sys", &[0], Some("k1"))], 1000, 0)
        .await
        .unwrap()[0]
        .clone();
    let again = s
        .store_messages(app, vec![mass("sys", &[0, 1], Some("k1"))], 2000, 500)
        .await
        .unwrap()[0]
        .clone();
    assert_eq!(
        again,
        Sent {
            duplicate: true,
            ..first.clone()
        }
    );
    // Outside the window the key is free again.
    let later = s
        .store_messages(app, vec![mass("sys", &[0, 1], Some("k1"))], 9000, 1500)
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
        )
        .await
        .unwrap();
    let mut tomb = NewMessage::new(MsgKind::Recall, accid("a"), 0, "{}".into());
    tomb.to = Some(accid("b"));
    tomb.to_ordinal = Some(Ordinal(1));
    tomb.ref_msgid = Some(sent[0].msgid);
    let t = s
        .recall_message(app, sent[0].msgid, tomb, 1500)
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
    let got = s
        .user_messages(app, Ordinal(1), MsgId(0), 100, 2000)
        .await
        .unwrap();
    assert_eq!(
        got.iter().map(|m| (m.msgid, m.kind)).collect::<Vec<_>>(),
        [(sent[1].msgid, MsgKind::Mass), (t.msgid, MsgKind::Recall)]
    );
    assert_eq!(got[1].ref_msgid, Some(sent[0].msgid));
    let q = SessionQuery {
        a: accid("a"),
        b: accid("b"),
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
        .store_messages(app, vec![b, online], 1000, 0)
        .await
        .unwrap();
    let inbox = |now: i64| s.user_messages(app, Ordinal(0), MsgId(0), 10, now);
    assert_eq!(
        inbox(4000).await.unwrap().len(),
        1,
        "only the offline one syncs"
    );
    assert!(inbox(5000).await.unwrap().is_empty(), "expired");
    let all = s
        .broadcasts(app, None, 10, BroadcastFilter::All)
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|m| m.msgid).collect::<Vec<_>>(),
        [sent[1].msgid, sent[0].msgid]
    );
    assert_eq!(
        s.broadcasts(app, None, 10, BroadcastFilter::OnlineOnly)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.broadcasts(app, Some(sent[0].msgid), 10, BroadcastFilter::All)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(s.delete_broadcast(app, sent[0].msgid).await.unwrap());
    assert!(!s.delete_broadcast(app, sent[0].msgid).await.unwrap());
    assert_eq!(
        s.broadcasts(app, None, 10, BroadcastFilter::Offline)
            .await
            .unwrap()
            .len(),
        0
    );
}

/// Paging an inbox: the page holds the first `limit` messages in msgid order, whichever way
/// they reached the account, and nothing it was not sent.
pub async fn inbox_pages_mix_direct_and_shared_messages(s: &dyn Store) {
    let app = s.create_app("a").await.unwrap().id;
    let mut msgs = Vec::new();
    for i in 0..30 {
        msgs.push(match i % 3 {
            0 => p2p("x", "me", 1, &format!("d{i}")),
            1 => mass("sys", &[1, 2], None),
            _ => mass("sys", &[2], None),
        });
    }
    let mut flagged = mass("sys", &[1], None);
    flagged.antispam = true;
    msgs.push(flagged);
    let sent = s.store_messages(app, msgs, 1000, 0).await.unwrap();
    let mine: Vec<MsgId> = sent
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 2 && *i < 30)
        .map(|(_, x)| x.msgid)
        .collect();
    let mut got = Vec::new();
    let mut cursor = MsgId(0);
    loop {
        let page = s
            .user_messages(app, Ordinal(1), cursor, 7, 2000)
            .await
            .unwrap();
        assert!(page.len() <= 7);
        got.extend(page.iter().map(|m| m.msgid));
        match page.last() {
            Some(m) if page.len() == 7 => cursor = m.msgid,
            _ => break,
        }
    }
    assert_eq!(got, mine);
}

/// Once a reader sees msgid N, it sees every lower msgid that will ever exist: a reader that
/// passed one that committed later would skip it for good (cursors only move forward).
pub async fn readers_never_pass_a_msgid_that_commits_later(s: &dyn Store) {
    let app = s.create_app("a").await.unwrap().id;
    let stop = Arc::new(AtomicBool::new(false));
    let snapshots = {
        let reads = async {
            let mut snaps = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let head = s.head(app).await.unwrap().last_msgid;
                let seen: BTreeSet<MsgId> = s
                    .messages_between(app, MsgId(0), head, 100_000)
                    .await
                    .unwrap()
                    .iter()
                    .map(|m| m.msgid)
                    .collect();
                snaps.push((head, seen));
                tokio::task::yield_now().await;
            }
            snaps
        };
        let writes = async {
            let sends = (0..40).map(|i| {
                let msgs = vec![
                    p2p("a", "b", 1, &format!("m{i}")),
                    mass("sys", &[1, 2], None),
                ];
                s.store_messages(app, msgs, 1000, 0)
            });
            let answers = futures_util::future::join_all(sends).await;
            stop.store(true, Ordering::SeqCst);
            answers
        };
        let (snaps, answers) = tokio::join!(reads, writes);
        let all: BTreeSet<MsgId> = answers
            .into_iter()
            .flat_map(|r| r.unwrap())
            .map(|x| x.msgid)
            .collect();
        assert_eq!(all.len(), 80, "every message got its own msgid");
        (snaps, all)
    };
    let (snaps, all) = snapshots;
    for (head, seen) in snaps {
        let due: BTreeSet<MsgId> = all.iter().copied().filter(|m| *m <= head).collect();
        assert_eq!(
            seen, due,
            "a reader at head {head} missed a message below it"
        );
    }
}
