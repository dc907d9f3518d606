//! The conformance suite against the PostgreSQL backend, plus what only a shared database
//! can show (several nodes, a writer that commits late, admission across nodes).
//!
//! The server comes from `QUNFA_TEST_PG` (default `postgres://root@127.0.0.1/test`); each test
//! gets a schema of its own, dropped afterwards. Without a reachable server these tests fail.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use qunfa_core::Store;
use qunfa_core::account::Accid;
use qunfa_core::audience;
use qunfa_core::ids::{AppId, MsgId, Ordinal};
use qunfa_core::message::{MsgKind, NewMessage};
use qunfa_core::ratelimit::{Limit, Limits};
use qunfa_core::store::{AppStore, MessageStore, StoreError};
use qunfa_store::PgStore;
use qunfa_store::testing::PgSchema as Schema;

async fn open(url: &str) -> PgStore {
    match PgStore::open(url, 8).await {
        Ok(s) => s,
        Err(e) => panic!(
            "cannot open PostgreSQL for the tests ({e}): start PostgreSQL or set QUNFA_TEST_PG \
             to a server this user may create schemas on"
        ),
    }
}

/// A fresh store on a schema of its own.
struct Fresh {
    store: Arc<dyn Store>,
    _schema: Schema,
}

impl Deref for Fresh {
    type Target = dyn Store;
    fn deref(&self) -> &(dyn Store + 'static) {
        &*self.store
    }
}

async fn fresh() -> Fresh {
    let schema = Schema::new();
    let store = open(&schema.url()).await;
    Fresh {
        store: Arc::new(store),
        _schema: schema,
    }
}

qunfa_store::store_conformance_suite!(fresh());

fn accid(s: &str) -> Accid {
    Accid::parse(s, "accid").unwrap()
}

fn p2p(text: &str) -> NewMessage {
    let mut m = NewMessage::new(
        MsgKind::P2p,
        accid("a"),
        0,
        format!("{{\"msg\":\"{text}\"}}"),
    );
    m.to = Some(accid("b"));
    m.to_ordinal = Some(Ordinal(1));
    m
}

fn mass(members: &[u32]) -> NewMessage {
    let bits = members.iter().copied().collect();
    let mut m = NewMessage::new(MsgKind::Mass, accid("sys"), 100, "{}".into());
    m.audience = Some(audience::encode(&bits));
    m.recipients = members.len() as u64;
    m
}

async fn raw_session(schema: &Schema) -> tokio_postgres::Client {
    let mut cfg: tokio_postgres::Config = qunfa_store::testing::pg_base_url()
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    cfg.options(format!("-c search_path={}", schema.name()));
    let (client, conn) = cfg.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client
}

async fn ids_between(s: &PgStore, app: AppId) -> Vec<i64> {
    s.messages_between(app, MsgId(0), MsgId(qunfa_core::ids::MAX_MSGID), 10_000)
        .await
        .unwrap()
        .iter()
        .map(|m| m.msgid.0)
        .collect()
}

/// A transaction holding msgid N that commits after a later one asked for N+1: the later one
/// waits, and no reader sees anything past N-1 until N is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_transaction_commits_first() {
    let schema = Schema::new();
    let store = Arc::new(open(&schema.url()).await);
    let app = store.create_app("a").await.unwrap().id;
    let mut raw = raw_session(&schema).await;
    let tx = raw.transaction().await.unwrap();
    // What the writer does: take the app's row lock and the next msgid.
    let n: i64 = tx
        .query_one(
            "UPDATE msg_seqs SET next_msgid = next_msgid + 1 WHERE app_id = $1 RETURNING next_msgid - 1",
            &[&app.0],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    let s2 = store.clone();
    let later =
        tokio::spawn(async move { s2.store_messages(app, vec![p2p("later")], 2000, 0).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !later.is_finished(),
        "the later send waits for the earlier msgid's commit"
    );
    assert_eq!(store.head(app).await.unwrap().last_msgid, MsgId(0));
    assert!(ids_between(&store, app).await.is_empty());
    tx.execute(
        "INSERT INTO messages (app_id, msgid, kind, from_accid, to_accid, to_ordinal, msg_type, body, timetag) \
         VALUES ($1, $2, 0, 'a', 'b', 1, 0, '{\"msg\":\"earlier\"}', 1000)",
        &[&app.0, &n],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let sent = tokio::time::timeout(Duration::from_secs(10), later)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(sent[0].msgid, MsgId(n + 1));
    assert_eq!(store.head(app).await.unwrap().last_msgid, MsgId(n + 1));
    assert_eq!(ids_between(&store, app).await, vec![n, n + 1]);
}

fn test_options() -> qunfa_store::Options {
    let l = |count, per_secs, penalty_secs| Limit {
        count,
        per_secs,
        penalty_secs,
    };
    qunfa_store::Options {
        data_dir: std::env::temp_dir(),
        synchronous_full: true,
        pool_size: 4,
        curtime_window_secs: 300,
        limits: Limits {
            default: l(3, 1, 10),
            batch: l(120, 60, 60),
            broadcast: l(10, 60, 60),
            team_query: l(30, 60, 60),
        },
    }
}

#[tokio::test]
async fn an_unreachable_server_fails_open_without_the_password() {
    let started = Instant::now();
    let r = qunfa_store::open("postgres://root:secretpw@127.0.0.1:1/test", &test_options()).await;
    let Err(StoreError::Internal(msg)) = r.map(|b| b.describe) else {
        panic!("opening port 1 succeeded or failed oddly");
    };
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(msg.contains("127.0.0.1:1/test"), "{msg}");
    assert!(!msg.contains("secretpw"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_names_the_schema_and_no_password() {
    let schema = Schema::new();
    // Trust auth ignores the password; it must not show up anywhere.
    let url = schema
        .url_with("")
        .replacen("://root@", "://root:secretpw@", 1);
    let b = qunfa_store::open(&url, &test_options()).await.unwrap();
    assert!(b.describe.starts_with("postgres "), "{}", b.describe);
    assert!(
        b.describe.ends_with(&format!(" schema {}", schema.name())),
        "{}",
        b.describe
    );
    assert!(b.store.is_shared() && b.admission.is_some() && b.embedded.is_none());
    assert!(!b.describe.contains("secretpw"), "{}", b.describe);
}

/// Two nodes on one schema share the replay window and the rate limits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admission_is_shared_across_nodes() {
    let schema = Schema::new();
    let opts = test_options();
    let one = qunfa_store::open(&schema.url(), &opts).await.unwrap();
    let two = qunfa_store::open(&schema.url(), &opts).await.unwrap();
    let (a1, a2) = (one.admission.unwrap(), two.admission.unwrap());
    let app = AppId(1);
    let now = 1_000_000_000_000;
    let ct = now / 1000;
    assert!(a1.first_use(app, "n1", ct, now).await.unwrap());
    assert!(
        !a2.first_use(app, "n1", ct, now).await.unwrap(),
        "a replay on the other node"
    );
    assert!(
        a2.first_use(AppId(2), "n1", ct, now).await.unwrap(),
        "apps do not share nonces"
    );
    assert!(a2.first_use(app, "n1", ct + 1, now).await.unwrap());
    a2.forget(app, "n1", ct).await.unwrap();
    assert!(a1.first_use(app, "n1", ct, now).await.unwrap(), "forgotten");
    // Concurrent uses of one triple: exactly one is first.
    let tries = (0..10).map(|i| {
        let a = if i % 2 == 0 { &a1 } else { &a2 };
        a.first_use(app, "same", ct, now)
    });
    let firsts = futures_util::future::join_all(tries)
        .await
        .into_iter()
        .filter(|r| *r.as_ref().unwrap())
        .count();
    assert_eq!(firsts, 1);
    // Once its CurTime is out of the window, a triple is gone.
    let later = now + 301_000;
    assert!(a2.first_use(app, "n1", ct, later).await.unwrap());

    let t = 5_000_000;
    assert_eq!(a1.count(app, "user/create", t).await.unwrap(), Ok(()));
    assert_eq!(a2.count(app, "user/create", t + 1).await.unwrap(), Ok(()));
    assert_eq!(
        a1.count(app, "user/getUinfos", t + 2).await.unwrap(),
        Ok(())
    );
    assert_eq!(
        a2.count(app, "user/create", t + 3).await.unwrap(),
        Err("user".into()),
        "the limit counts both nodes"
    );
    assert_eq!(
        a1.count(app, "user/create", t + 1500).await.unwrap(),
        Err("user".into()),
        "the penalty holds on the other node, past the window"
    );
    assert_eq!(
        a2.count(AppId(2), "user/create", t + 1500).await.unwrap(),
        Ok(())
    );
    assert_eq!(
        a2.count(app, "dic/listAreas", t + 1500).await.unwrap(),
        Ok(())
    );
    assert_eq!(
        a2.count(app, "user/create", t + 10_100).await.unwrap(),
        Ok(()),
        "penalty over"
    );
}

/// Two nodes writing one app: msgids never collide, have no gaps, and a reader on either never
/// passes a msgid that commits later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_one_msgid_order() {
    let schema = Schema::new();
    let one = open(&schema.url()).await;
    let two = open(&schema.url()).await;
    let app = one.create_app("a").await.unwrap().id;
    let stop = AtomicBool::new(false);
    let reads = async {
        let mut snaps = Vec::new();
        while !stop.load(Ordering::SeqCst) {
            for s in [&one, &two] {
                let head = s.head(app).await.unwrap().last_msgid;
                let seen: BTreeSet<i64> = s
                    .messages_between(app, MsgId(0), head, 100_000)
                    .await
                    .unwrap()
                    .iter()
                    .map(|m| m.msgid.0)
                    .collect();
                snaps.push((head.0, seen));
            }
        }
        snaps
    };
    let writes = async {
        let sends = (0..80).map(|i| {
            let s = if i % 2 == 0 { &one } else { &two };
            s.store_messages(app, vec![p2p(&format!("m{i}")), mass(&[1, 2])], 1000, 0)
        });
        let answers = futures_util::future::join_all(sends).await;
        stop.store(true, Ordering::SeqCst);
        answers
    };
    let (snaps, answers) = tokio::join!(reads, writes);
    let all: BTreeSet<i64> = answers
        .into_iter()
        .flat_map(|r| r.unwrap())
        .map(|x| x.msgid.0)
        .collect();
    assert_eq!(all, (1..=160).collect(), "unique and gapless");
    for (head, seen) in snaps {
        let due: BTreeSet<i64> = (1..=head).collect();
        assert_eq!(
            seen, due,
            "a reader at head {head} missed a message below it"
        );
    }
}

/// One job the database refuses (a NUL byte in a text column) fails alone; the others of its
/// batch are stored, and it takes no msgid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_job_fails_alone() {
    let schema = Schema::new();
    let store = Arc::new(open(&schema.url()).await);
    let app = store.create_app("a").await.unwrap().id;
    // Hold the app's msgid lock so the jobs queue up and land in one batch.
    let mut raw = raw_session(&schema).await;
    let tx = raw.transaction().await.unwrap();
    tx.execute(
        "SELECT 1 FROM msg_seqs WHERE app_id = $1 FOR UPDATE",
        &[&app.0],
    )
    .await
    .unwrap();
    let send = |m: NewMessage| {
        let s = store.clone();
        tokio::spawn(async move { s.store_messages(app, vec![m], 1000, 0).await })
    };
    let first = send(p2p("first"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut rest = Vec::new();
    for i in 0..20 {
        let mut m = p2p(&format!("m{i}"));
        if i == 10 {
            m.body = "{\"msg\":\"nul \u{0} byte\"}".into();
        }
        rest.push(send(m));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    tx.rollback().await.unwrap();
    assert_eq!(first.await.unwrap().unwrap()[0].msgid, MsgId(1));
    let mut ok = Vec::new();
    for (i, h) in rest.into_iter().enumerate() {
        match h.await.unwrap() {
            Ok(sent) => ok.push(sent[0].msgid.0),
            Err(StoreError::Internal(why)) if i == 10 => assert!(!why.is_empty()),
            other => panic!("job {i}: {other:?}"),
        }
    }
    // Tasks queue in any order; what counts is that the 19 good ones got 2..=20 between them.
    ok.sort_unstable();
    assert_eq!(ok, (2..=20).collect::<Vec<_>>());
    assert_eq!(store.head(app).await.unwrap().last_msgid, MsgId(20));
}

/// Keyed mass sends queued into one batch (with another app's send and a recall beside them)
/// are checked against each other as if stored one by one; across two nodes the check holds
/// too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mass_keys_are_checked_inside_a_batch_and_across_nodes() {
    let schema = Schema::new();
    let store = Arc::new(open(&schema.url()).await);
    let app = store.create_app("a").await.unwrap().id;
    let other = store.create_app("b").await.unwrap().id;
    let keyed = |key: &str, members: &[u32]| {
        let mut m = mass(members);
        m.msgidclient = Some(key.into());
        m
    };
    let stored = store
        .store_messages(app, vec![p2p("to recall")], 500, 0)
        .await
        .unwrap();
    let mut raw = raw_session(&schema).await;
    let tx = raw.transaction().await.unwrap();
    tx.execute(
        "SELECT 1 FROM msg_seqs WHERE app_id = $1 FOR UPDATE",
        &[&app.0],
    )
    .await
    .unwrap();
    let blocker = {
        let s = store.clone();
        tokio::spawn(async move { s.store_messages(app, vec![p2p("blocker")], 900, 0).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut queued = Vec::new();
    for (i, (key, members)) in [
        ("k", &[1u32][..]),
        ("k", &[1, 2]),
        ("other", &[3]),
        ("k", &[4]),
    ]
    .into_iter()
    .enumerate()
    {
        let (s, m) = (store.clone(), keyed(key, members));
        queued.push(tokio::spawn(async move {
            s.store_messages(app, vec![m], 1000 + i as i64, 0).await
        }));
    }
    let in_other = {
        let s = store.clone();
        tokio::spawn(async move {
            s.store_messages(other, vec![keyed("k", &[0])], 1000, 0)
                .await
        })
    };
    let recall = {
        let (s, msgid) = (store.clone(), stored[0].msgid);
        let mut tomb = NewMessage::new(MsgKind::Recall, accid("a"), 0, "{}".into());
        tomb.to = Some(accid("b"));
        tomb.to_ordinal = Some(Ordinal(1));
        tomb.ref_msgid = Some(msgid);
        tokio::spawn(async move { s.recall_message(app, msgid, tomb, 1000).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    tx.rollback().await.unwrap();
    blocker.await.unwrap().unwrap();
    let mut k = Vec::new();
    for (i, h) in queued.into_iter().enumerate() {
        let sent = h.await.unwrap().unwrap().remove(0);
        if i == 2 {
            assert!(!sent.duplicate, "another key");
        } else {
            k.push(sent);
        }
    }
    let fresh: Vec<_> = k.iter().filter(|s| !s.duplicate).cloned().collect();
    assert_eq!(fresh.len(), 1, "{k:?}");
    for s in &k {
        assert_eq!(
            (s.msgid, s.timetag, s.recipients),
            (fresh[0].msgid, fresh[0].timetag, fresh[0].recipients)
        );
    }
    assert!(
        !in_other.await.unwrap().unwrap()[0].duplicate,
        "keys are per app"
    );
    let t = recall.await.unwrap().unwrap();
    let m = store.message(app, stored[0].msgid).await.unwrap().unwrap();
    assert_eq!(m.recalled_ms, Some(1000));
    assert_eq!(
        store.message(app, t.msgid).await.unwrap().unwrap().kind,
        MsgKind::Recall
    );
    assert_eq!(store.mass_messages(app, None, 10).await.unwrap().len(), 2);

    // Two nodes sending one key at once: one is stored.
    let two = open(&schema.url()).await;
    let sends = (0..6).map(|i| {
        let s: &PgStore = if i % 2 == 0 { &store } else { &two };
        s.store_messages(app, vec![keyed("both", &[1])], 5000, 0)
    });
    let answers: Vec<_> = futures_util::future::join_all(sends)
        .await
        .into_iter()
        .map(|r| r.unwrap().remove(0))
        .collect();
    assert_eq!(
        answers.iter().filter(|s| !s.duplicate).count(),
        1,
        "{answers:?}"
    );
    assert_eq!(
        answers
            .iter()
            .map(|s| s.msgid)
            .collect::<BTreeSet<_>>()
            .len(),
        1
    );
}

/// An inbox read past several pages of shared messages the account is mostly not in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_reads_page_through_foreign_audiences() {
    let schema = Schema::new();
    let store = open(&schema.url()).await;
    let app = store.create_app("a").await.unwrap().id;
    let msgs: Vec<NewMessage> = (0..1200)
        .map(|i| match i {
            _ if i % 97 == 0 => p2p(&format!("d{i}")),
            _ if i % 50 == 0 => mass(&[1, 5]),
            _ => mass(&[(i % 7) + 2]),
        })
        .collect();
    let mine: Vec<MsgId> = store
        .store_messages(app, msgs, 1000, 0)
        .await
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 97 == 0 || i % 50 == 0)
        .map(|(_, s)| s.msgid)
        .collect();
    for limit in [1, 5, 1000] {
        let mut got = Vec::new();
        let mut cursor = MsgId(0);
        loop {
            let page = store
                .user_messages(app, Ordinal(1), cursor, limit, 2000)
                .await
                .unwrap();
            got.extend(page.iter().map(|m| m.msgid));
            match page.last() {
                Some(m) if page.len() == limit => cursor = m.msgid,
                _ => break,
            }
        }
        assert_eq!(got, mine, "limit {limit}");
    }
}

/// The writer's and the pool's connections are killed (as a PostgreSQL restart would): the
/// store recovers by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_connections_are_replaced() {
    let schema = Schema::new();
    let store = open(&schema.url_with(&format!("&application_name={}", schema.name()))).await;
    let app = store.create_app("a").await.unwrap().id;
    store
        .store_messages(app, vec![p2p("before")], 1, 0)
        .await
        .unwrap();
    let raw = raw_session(&schema).await;
    let killed = raw
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&schema.name()],
        )
        .await
        .unwrap();
    assert!(killed >= 2, "killed {killed}");
    let mut sent = None;
    for _ in 0..50 {
        match store.store_messages(app, vec![p2p("after")], 2, 0).await {
            Ok(s) => {
                sent = Some(s);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert_eq!(sent.unwrap()[0].msgid, MsgId(2));
    let mut head = None;
    for _ in 0..50 {
        if let Ok(h) = store.head(app).await {
            head = Some(h);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(head.unwrap().last_msgid, MsgId(2));
}

/// Nodes starting together on a fresh schema: every open succeeds, migrations run once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_opening_together_migrate_once() {
    let schema = Schema::new();
    let url = schema.url();
    let opens = (0..4).map(|_| PgStore::open(&url, 2));
    let stores: Vec<PgStore> = futures_util::future::join_all(opens)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let raw = raw_session(&schema).await;
    let n: i64 = raw
        .query_one("SELECT count(*) FROM qunfa_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 3, "each migration once");
    let ids: BTreeSet<String> =
        futures_util::future::join_all(stores.iter().map(|s| s.deployment_id()))
            .await
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
    assert_eq!(ids.len(), 1, "one deployment");
}

/// Dropping the store ends its writer and closes every connection it opened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_store_closes_its_connections() {
    let schema = Schema::new();
    let b = qunfa_store::open(
        &schema.url_with(&format!("&application_name={}", schema.name())),
        &test_options(),
    )
    .await
    .unwrap();
    let app = b.store.create_app("a").await.unwrap().id;
    b.store
        .store_messages(app, vec![p2p("x")], 1, 0)
        .await
        .unwrap();
    let admission = b.admission.clone().unwrap();
    assert!(admission.first_use(app, "n", 1, 1000).await.unwrap());
    let raw = raw_session(&schema).await;
    let count = || async {
        raw.query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
            &[&schema.name()],
        )
        .await
        .unwrap()
        .get::<_, i64>(0)
    };
    assert!(count().await >= 2, "the writer and a pooled connection");
    drop(admission);
    drop(b);
    let mut left = count().await;
    for _ in 0..50 {
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = count().await;
    }
    assert_eq!(left, 0, "connections left open after the store was dropped");
}

/// Sustained one-message sends from 64 callers for ~5 s; prints calls/s.
/// `cargo test --release -p qunfa-store --test postgres -- --ignored --nocapture throughput`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn throughput() {
    let schema = Schema::new();
    let store = Arc::new(open(&schema.url()).await);
    let app = store.create_app("a").await.unwrap().id;
    let done = Arc::new(AtomicUsize::new(0));
    let until = Instant::now() + Duration::from_secs(5);
    let started = Instant::now();
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let (s, done) = (store.clone(), done.clone());
            tokio::spawn(async move {
                let mut m = p2p(&format!("hello from {i}"));
                m.msgidclient = Some(format!("c-{i}"));
                while Instant::now() < until {
                    s.store_messages(app, vec![m.clone()], 1, 0).await.unwrap();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let n = done.load(Ordering::Relaxed);
    let secs = started.elapsed().as_secs_f64();
    println!(
        "postgres store_messages: {n} calls in {secs:.2} s = {:.0} calls/s (64 callers, 1 p2p message each)",
        n as f64 / secs
    );
    assert_eq!(store.head(app).await.unwrap().last_msgid, MsgId(n as i64));
}

/// 1,000,000 accounts, 1,000 per call as `qunfa import` sends them, then the audience
/// index's full read at start; prints both (budgets: ≤ 60 s and ≤ 5 s).
/// `cargo test --release -p qunfa-store --test postgres -- --ignored --nocapture import_speed`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn import_speed() {
    use qunfa_core::account::{NewAccount, Profile, hash_token};
    use qunfa_core::store::AccountStore;
    let schema = Schema::new();
    let store = open(&schema.url()).await;
    let app = store.create_app("a").await.unwrap().id;
    let started = Instant::now();
    let calls = 1000;
    for call in 0..calls {
        let accounts = (0..1000)
            .map(|i| {
                let accid = accid(&format!("user{call}x{i}"));
                NewAccount {
                    token_hash: hash_token(&accid, "t"),
                    accid,
                    profile: Profile {
                        name: Some(format!("user {i}")),
                        ..Profile::default()
                    },
                }
            })
            .collect();
        let r = store.create_accounts(app, accounts).await.unwrap();
        assert_eq!(r.last(), Some(&Ok(Ordinal(call * 1000 + 999))));
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "postgres create_accounts: {} accounts in {secs:.2} s = {:.0} accounts/s (1,000 per call)",
        calls * 1000,
        f64::from(calls * 1000) / secs
    );
    let started = Instant::now();
    let entries = store.index_entries(app).await.unwrap();
    println!(
        "postgres index_entries: {} entries in {:.2} s",
        entries.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(entries.len(), 1_000_000);
}

/// Targeted sends to an audience of a million (every other ordinal of two million: no runs to
/// compress), one at a time; prints p50/p99 of `store_messages`.
/// `cargo test --release -p qunfa-store --test postgres -- --ignored --nocapture big_audience`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn big_audience_sends() {
    let schema = Schema::new();
    let store = open(&schema.url()).await;
    let app = store.create_app("a").await.unwrap().id;
    let bits: roaring::RoaringBitmap = (0..2_000_000u32).step_by(2).collect();
    let encoded = audience::encode(&bits);
    let mut took = Vec::new();
    for i in 0..40 {
        let mut m = NewMessage::new(MsgKind::Mass, accid("sys"), 100, "{}".into());
        m.audience = Some(encoded.clone());
        m.recipients = bits.len();
        m.msgidclient = Some(format!("k{i}"));
        let t = Instant::now();
        store.store_messages(app, vec![m], 1, 0).await.unwrap();
        took.push(t.elapsed());
    }
    took.sort();
    let t = Instant::now();
    let _ = audience::digest(&encoded);
    println!("digest of the audience: {:?}", t.elapsed());
    println!(
        "postgres mass send to 1,000,000 ({} KB audience): p50 {:?}, p99 {:?}",
        encoded.len() / 1024,
        took[took.len() / 2],
        took[took.len() * 99 / 100]
    );
}
