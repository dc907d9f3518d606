//! Many nodes, one store: three real `qunfa serve` processes on one PostgreSQL schema and one
//! NATS server (the test's own, so it can restart it). What a client on one node sees of what
//! was done through another: messages in msgid order, targeted sends reaching exactly their
//! audience, accounts, teams, keyword lists and kicks, replays refused across nodes; then a node
//! killed with SIGKILL under load and NATS restarted under load, with nothing lost and
//! nothing doubled.
//!
//! Needs PostgreSQL (`QUNFA_TEST_PG`, default `postgres://root@127.0.0.1/test`) and the
//! `nats-server` binary (Debian package `nats-server`); `.ci/run` provides both.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use qunfa_server::client::NimClient;
use serde_json::{Value, json};
use support::{Client, Nats, Opts, PgSchema, Serve, msgid};

struct Cluster {
    nodes: Vec<Serve>,
    nim: Vec<NimClient>,
    appkey: String,
    secret: String,
    _dirs: Vec<tempfile::TempDir>,
}

fn node_opts(dir: &std::path::Path, pg: &PgSchema, nats: &Nats, prefix: &str) -> Opts {
    Opts {
        dir: dir.to_owned(),
        store: Some(pg.url()),
        bus: Some(nats.url()),
        env: vec![
            ("QUNFA_BUS__PREFIX".into(), prefix.into()),
            ("QUNFA_API__APP_REFRESH_MS".into(), "200".into()),
        ],
        ..Opts::default()
    }
}

/// Three nodes started at once on a fresh schema: exactly one bootstraps the first app.
fn cluster(pg: &PgSchema, nats: &Nats) -> Cluster {
    let prefix = format!("qt{}", qunfa_core::random_hex(4));
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let nodes = Serve::start_all(
        dirs.iter()
            .map(|d| node_opts(d.path(), pg, nats, &prefix))
            .collect(),
    );
    let printed: Vec<_> = nodes.iter().filter_map(|n| n.app.clone()).collect();
    assert_eq!(
        printed.len(),
        1,
        "exactly one node bootstraps the first app"
    );
    let (appkey, secret) = printed[0].clone();
    let nim = nodes
        .iter()
        .map(|n| NimClient::new(&n.url, &appkey, &secret))
        .collect();
    Cluster {
        nodes,
        nim,
        appkey,
        secret,
        _dirs: dirs,
    }
}

async fn ok(nim: &NimClient, endpoint: &str, params: &[(&str, &str)]) -> Value {
    let v = nim.call(endpoint, params).await.unwrap();
    assert_eq!(v["code"], 200, "{endpoint} {params:?}: {v}");
    v
}

fn token(accid: &str) -> String {
    format!("tok-{accid}")
}

/// Frames a client receives, collected in the background.
struct Watch {
    frames: Arc<Mutex<Vec<Value>>>,
    task: tokio::task::JoinHandle<()>,
}

fn watch(mut c: Client) -> Watch {
    let frames = Arc::new(Mutex::new(Vec::new()));
    let out = frames.clone();
    let task = tokio::spawn(async move {
        while let Some(f) = c.next(Duration::from_secs(3600)).await {
            let end = f["op"] == "close";
            out.lock().unwrap().push(f);
            if end {
                break;
            }
        }
    });
    Watch { frames, task }
}

impl Watch {
    fn msgids(&self) -> Vec<i64> {
        self.frames
            .lock()
            .unwrap()
            .iter()
            .filter_map(msgid)
            .collect()
    }

    /// Waits until `pred` holds over the frames so far (or fails after `within`).
    async fn until(&self, within: Duration, what: &str, pred: impl Fn(&[Value]) -> bool) {
        let deadline = Instant::now() + within;
        loop {
            if pred(&self.frames.lock().unwrap()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within {within:?}; frames: {:?}",
                self.frames.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn login(node: &Serve, appkey: &str, accid: &str, cursor: i64) -> (Client, Vec<Value>) {
    Client::login(&node.ws_url(), appkey, accid, &token(accid), cursor).await
}

fn send_params<'a>(body: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut p = vec![("type", "0"), ("body", body)];
    p.extend_from_slice(extra);
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_share_accounts_messages_keywords_kicks_and_replays() {
    let pg = PgSchema::new();
    let nats = Nats::start();
    let cl = cluster(&pg, &nats);
    let (a, b, c) = (&cl.nim[0], &cl.nim[1], &cl.nim[2]);

    // Dictionaries and accounts through A.
    ok(a, "dic/createArea", &[("areaid", "37"), ("name", "山东")]).await;
    ok(
        a,
        "dic/createArea",
        &[("areaid", "3701"), ("name", "济南"), ("parentid", "37")],
    )
    .await;
    ok(a, "dic/createArea", &[("areaid", "44"), ("name", "广东")]).await;
    for (accid, area) in [
        ("u0", "3701"),
        ("u1", "3701"),
        ("u2", "37"),
        ("u3", "44"),
        ("u4", "44"),
        ("u5", ""),
    ] {
        ok(
            a,
            "user/create",
            &[("accid", accid), ("token", &token(accid)), ("areaid", area)],
        )
        .await;
    }
    // Right after A's 200, B and C count the new accounts in.
    let n = ok(b, "msg/previewAudience", &[("areaid", "37")]).await;
    assert_eq!(n["data"]["recipients"], 3, "{n}");
    ok(
        a,
        "user/create",
        &[("accid", "u6"), ("token", &token("u6")), ("areaid", "3701")],
    )
    .await;
    let n = ok(c, "msg/previewAudience", &[("areaid", "37")]).await;
    assert_eq!(
        n["data"]["recipients"], 4,
        "an account created through A is in C's audience at once: {n}"
    );

    // Clients spread over the nodes.
    let (u0, _) = login(&cl.nodes[1], &cl.appkey, "u0", 0).await;
    let (u1, _) = login(&cl.nodes[0], &cl.appkey, "u1", 0).await;
    let (u3, _) = login(&cl.nodes[2], &cl.appkey, "u3", 0).await;
    let (u4, _) = login(&cl.nodes[1], &cl.appkey, "u4", 0).await;
    let (w0, w1, w3, w4) = (watch(u0), watch(u1), watch(u3), watch(u4));

    // Point-to-point through A to a client on B: all of them, in msgid order.
    let mut sent = Vec::new();
    let mut latencies = Vec::new();
    for i in 0..20 {
        let body = json!({"msg": format!("p2p {i}")}).to_string();
        let t0 = Instant::now();
        let v = ok(
            a,
            "msg/sendMsg",
            &send_params(&body, &[("from", "u5"), ("ope", "0"), ("to", "u0")]),
        )
        .await;
        let id = v["data"]["msgid"].as_i64().unwrap();
        sent.push(id);
        w0.until(
            Duration::from_secs(5),
            "p2p through A reaches u0 on B",
            |f| f.iter().filter_map(msgid).any(|m| m == id),
        )
        .await;
        latencies.push(t0.elapsed());
    }
    assert_eq!(
        w0.msgids(),
        sent,
        "u0 got every message once, in msgid order"
    );
    latencies.sort();
    eprintln!(
        "cross-node send→frame at light load: p50 {:?}, max {:?} (20 sends)",
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1]
    );

    // A targeted send through C reaches exactly its audience, on every node.
    let body = json!({"msg": "济南的朋友们好"}).to_string();
    let t = ok(
        c,
        "msg/sendMsgToAll",
        &send_params(&body, &[("areaid", "3701")]),
    )
    .await;
    let tid = t["data"]["msgid"].as_i64().unwrap();
    assert_eq!(t["data"]["recipients"], 3, "{t}");
    let body = json!({"msg": "广东的朋友们好"}).to_string();
    let m = ok(
        b,
        "msg/sendMsgToAll",
        &send_params(&body, &[("areaid", "44")]),
    )
    .await;
    let mid = m["data"]["msgid"].as_i64().unwrap();
    for w in [&w0, &w1] {
        w.until(Duration::from_secs(5), "the Jinan send", |f| {
            f.iter().filter_map(msgid).any(|x| x == tid)
        })
        .await;
    }
    for w in [&w3, &w4] {
        w.until(Duration::from_secs(5), "the Guangdong send", |f| {
            f.iter().filter_map(msgid).any(|x| x == mid)
        })
        .await;
        assert!(
            !w.msgids().contains(&tid),
            "a Guangdong account got the Jinan send"
        );
    }
    assert!(!w0.msgids().contains(&mid) && !w1.msgids().contains(&mid));

    // Teams: created through A, sent into through A and C, changed through B, with members
    // on every node; a member kicked through B gets nothing sent afterwards through C.
    let t = ok(
        a,
        "team/create",
        &[
            ("tname", "nodes"),
            ("owner", "u1"),
            ("members", "[\"u0\",\"u3\"]"),
            ("msg", "m"),
            ("magree", "0"),
            ("joinmode", "0"),
        ],
    )
    .await;
    let team = t["tid"].as_i64().unwrap().to_string();
    let body = json!({"msg": "team hello"}).to_string();
    let v = ok(
        a,
        "msg/sendMsg",
        &send_params(&body, &[("from", "u1"), ("ope", "1"), ("to", &team)]),
    )
    .await;
    let first = v["data"]["msgid"].as_i64().unwrap();
    for (w, what) in [
        (&w0, "a team message through A reaches u0 on B"),
        (&w3, "a team message through A reaches u3 on C"),
        (&w1, "the sender's own session on A gets it"),
    ] {
        w.until(Duration::from_secs(5), what, |f| {
            f.iter().filter_map(msgid).any(|x| x == first)
        })
        .await;
    }
    ok(
        b,
        "team/kick",
        &[("tid", &team), ("owner", "u1"), ("member", "u3")],
    )
    .await;
    let v = ok(
        c,
        "msg/sendMsg",
        &send_params(&body, &[("from", "u0"), ("ope", "1"), ("to", &team)]),
    )
    .await;
    let second = v["data"]["msgid"].as_i64().unwrap();
    for w in [&w0, &w1] {
        w.until(Duration::from_secs(5), "a team message through C", |f| {
            f.iter().filter_map(msgid).any(|x| x == second)
        })
        .await;
    }
    assert!(
        !w3.msgids().contains(&second),
        "u3, kicked through B, got a team message sent through C"
    );
    let r = ok(
        c,
        "history/queryTeamMsg",
        &[
            ("tid", &team),
            ("accid", "u3"),
            ("begintime", "0"),
            ("endtime", "9999999999999"),
            ("limit", "10"),
            ("checkTeamValid", "false"),
        ],
    )
    .await;
    assert_eq!(
        r["size"], 3,
        "its joining, the first message, its kick: {r}"
    );

    // A client's own send through A reaches the recipient on B and its sender's session on C.
    let (mut sender, _) = login(&cl.nodes[0], &cl.appkey, "u5", 0).await;
    let (other, _) = login(&cl.nodes[2], &cl.appkey, "u5", 0).await;
    let w5 = watch(other);
    {
        use futures_util::SinkExt;
        let frame = json!({"op": "send", "ope": 0, "to": "u0", "type": 0,
            "body": {"msg": "from a client"}, "msgidClient": "mn-1"});
        sender
            .ws
            .send(tokio_tungstenite::tungstenite::Message::Text(
                frame.to_string().into(),
            ))
            .await
            .unwrap();
    }
    let from_client = |f: &[Value]| {
        f.iter()
            .any(|x| x["msg"]["body"]["msg"] == "from a client" && x["msg"]["from"] == "u5")
    };
    w0.until(
        Duration::from_secs(5),
        "a client's send through A on B",
        from_client,
    )
    .await;
    w5.until(
        Duration::from_secs(5),
        "the sender's other session on C",
        from_client,
    )
    .await;
    drop(sender);

    // A request replayed on another node answers 431.
    let body = serde_urlencoded::to_string([("accids", "[\"u0\"]")]).unwrap();
    let headers = a.sign();
    let ct = "application/x-www-form-urlencoded;charset=utf-8";
    let first = a
        .send("user/getUinfos", &headers, ct, body.clone().into_bytes())
        .await
        .unwrap();
    assert_eq!(first["code"], 200, "{first}");
    let again = b
        .send("user/getUinfos", &headers, ct, body.into_bytes())
        .await
        .unwrap();
    assert_eq!(again, json!({"code": 431, "desc": "repeated request"}));

    // A keyword list set through A holds on B within a second.
    ok(a, "antispam/setWords", &[("words", "[\"赌博\"]")]).await;
    let body = json!({"msg": "网上赌博"}).to_string();
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let v = ok(
            b,
            "msg/sendMsg",
            &send_params(&body, &[("from", "u5"), ("ope", "0"), ("to", "u6")]),
        )
        .await;
        if v["data"]["antispam"] == true {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "B did not filter within 1 s: {v}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A kick through A ends the session on B within a second.
    let t0 = Instant::now();
    ok(a, "user/block", &[("accid", "u4"), ("needkick", "true")]).await;
    w4.until(Duration::from_secs(1), "u4 kicked on B", |f| {
        f.iter().any(|x| x["op"] == "kick")
            && f.iter().any(|x| x["op"] == "close" && x["code"] == 4003)
    })
    .await;
    eprintln!("kick across nodes: {:?}", t0.elapsed());

    // An app disabled with `qunfa app disable --store` is refused by every node.
    let out = std::process::Command::new(support::BIN)
        .args(["app", "disable", &cl.appkey, "--store", &pg.url()])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for nim in &cl.nim {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let v = nim
                .call("user/getUinfos", &[("accids", "[]")])
                .await
                .unwrap();
            if v == json!({"code": 403, "desc": "app is forbidden"}) {
                break;
            }
            assert!(Instant::now() < deadline, "still served: {v}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    for w in [w0, w1, w3] {
        w.task.abort();
    }
    let _ = &cl.secret;
}

const ACCOUNTS: usize = 8;

fn accid(i: usize) -> String {
    format!("c{i}")
}

/// One send of the load and who it was for; `acked` once the API answered 200.
struct Attempt {
    to: BTreeSet<usize>,
    acked: Option<i64>,
}

/// Sends through `nim` (point-to-point and targeted) until `stop`.
async fn load(nim: NimClient, seed: usize, stop: Arc<AtomicBool>) -> BTreeMap<String, Attempt> {
    let mut out = BTreeMap::new();
    let mut n = 0usize;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let key = format!("k{seed}-{n}");
        let body = json!({"msg": key}).to_string();
        let (endpoint, params, to): (&str, Vec<(&str, String)>, BTreeSet<usize>) =
            if n.is_multiple_of(2) {
                let to = (seed + n) % ACCOUNTS;
                let from = (to + 1) % ACCOUNTS;
                (
                    "msg/sendMsg",
                    vec![
                        ("from", accid(from)),
                        ("ope", "0".into()),
                        ("to", accid(to)),
                    ],
                    BTreeSet::from([to]),
                )
            } else {
                let to: BTreeSet<usize> = (0..ACCOUNTS)
                    .filter(|i| !(i + n).is_multiple_of(3))
                    .collect();
                let list: Vec<String> = to.iter().map(|&i| accid(i)).collect();
                (
                    "msg/sendMsgToAll",
                    vec![("toAccids", serde_json::to_string(&list).unwrap())],
                    to,
                )
            };
        let mut params = params;
        params.push(("type", "0".into()));
        params.push(("body", body));
        params.push(("msgidclient", key.clone()));
        let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let acked = match nim.call(endpoint, &borrowed).await {
            Ok(v) if v["code"] == 200 => v["data"]["msgid"].as_i64(),
            Ok(v) => panic!("{endpoint}: {v}"),
            Err(_) => None,
        };
        out.insert(key, Attempt { to, acked });
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_and_a_restarted_nats_lose_nothing() {
    let pg = PgSchema::new();
    let mut nats = Nats::start();
    let mut cl = cluster(&pg, &nats);
    for i in 0..ACCOUNTS {
        ok(
            &cl.nim[0],
            "user/create",
            &[("accid", &accid(i)), ("token", &token(&accid(i)))],
        )
        .await;
    }
    // Half the clients on B (node 1), half on C (node 2); the load goes through A and C.
    let mut watches = Vec::new();
    for i in 0..ACCOUNTS {
        let node = if i < ACCOUNTS / 2 { 1 } else { 2 };
        let (c, caught_up) = login(&cl.nodes[node], &cl.appkey, &accid(i), 0).await;
        assert!(caught_up.is_empty());
        watches.push(watch(c));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let senders = vec![
        tokio::spawn(load(cl.nim[0].clone(), 1, stop.clone())),
        tokio::spawn(load(cl.nim[2].clone(), 2, stop.clone())),
    ];
    tokio::time::sleep(Duration::from_millis(1200)).await;

    // B dies; its clients come back through C with the highest msgid they have.
    cl.nodes[1].kill9();
    let mut views: Vec<Vec<i64>> = vec![Vec::new(); ACCOUNTS];
    for (i, w) in watches.iter_mut().enumerate().take(ACCOUNTS / 2) {
        tokio::time::timeout(support::WAIT, &mut w.task)
            .await
            .expect("connection ends with its node")
            .unwrap();
        let before = w.msgids();
        let cursor = before.last().copied().unwrap_or(0);
        let (c, caught_up) = login(&cl.nodes[2], &cl.appkey, &accid(i), cursor).await;
        let after: Vec<i64> = caught_up.iter().filter_map(msgid).collect();
        assert!(
            after.iter().all(|m| *m > cursor),
            "{}: catch-up at or below its cursor",
            accid(i)
        );
        views[i] = before.into_iter().chain(after).collect();
        *w = watch(c);
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    // NATS goes away and comes back while the load goes on.
    nats.restart();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut attempts = BTreeMap::new();
    for s in senders {
        attempts.extend(s.await.unwrap());
    }
    let acked = attempts.values().filter(|a| a.acked.is_some()).count();
    assert!(acked >= 40, "only {acked} sends acknowledged");
    // Longer than a poll interval: whatever an event missed, the poll brings.
    tokio::time::sleep(Duration::from_millis(2500)).await;

    for i in 0..ACCOUNTS {
        let live = watches[i].msgids();
        let view: Vec<i64> = views[i].iter().copied().chain(live).collect();
        assert!(
            view.windows(2).all(|w| w[0] < w[1]),
            "{}: out of order or doubled: {view:?}",
            accid(i)
        );
        for (key, a) in &attempts {
            if let (Some(id), true) = (a.acked, a.to.contains(&i)) {
                assert!(
                    view.contains(&id),
                    "{}: acknowledged {key} (msgid {id}) never arrived",
                    accid(i)
                );
            }
        }
    }
    eprintln!(
        "multi-node crash: {} sends, {acked} acknowledged, node B killed, NATS restarted",
        attempts.len()
    );
}
