//! 抄送 with many nodes on one PostgreSQL: messages sent through every node are copied once
//! each, in msgid order, by one node at a time (the receiver never sees two requests of the
//! app at once); when nodes are killed with SIGKILL, a survivor takes the app's lease over once
//! it expires and sends what was pending.
//!
//! Needs PostgreSQL and `nats-server`, like `multinode.rs`.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use md5::Digest as _;
use qunfa_server::client::NimClient;
use serde_json::{Value, json};
use sha1::Digest as _;
use support::{Nats, Opts, PgSchema, Serve};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// A receiver on raw HTTP/1.1 (keep-alive): checks MD5 and CheckSum, records the payloads,
/// answers 200 after `delay`, and remembers how many requests it held at once.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Value>>>,
    max_in_flight: Arc<AtomicUsize>,
}

async fn serve_conn(
    stream: tokio::net::TcpStream,
    secret: String,
    delay: Duration,
    got: Arc<Mutex<Vec<Value>>>,
    in_flight: Arc<AtomicUsize>,
    max: Arc<AtomicUsize>,
) {
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).await.unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end().to_owned();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        let get = |k: &str| {
            headers
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let len: usize = get("content-length").parse().unwrap_or(0);
        let mut body = vec![0u8; len];
        r.read_exact(&mut body).await.unwrap();
        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        max.fetch_max(now, Ordering::SeqCst);
        let md5 = hex::encode(md5::Md5::digest(&body));
        let mut h = sha1::Sha1::new();
        h.update(format!("{secret}{}{}", get("md5"), get("curtime")).as_bytes());
        assert_eq!(md5, get("md5"), "MD5 of the body");
        assert_eq!(hex::encode(h.finalize()), get("checksum"), "CheckSum");
        tokio::time::sleep(delay).await;
        got.lock()
            .unwrap()
            .push(serde_json::from_slice(&body).unwrap());
        in_flight.fetch_sub(1, Ordering::SeqCst);
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        if w.write_all(ok).await.is_err() {
            return;
        }
    }
}

impl Receiver {
    async fn start(secret: &str, delay: Duration) -> Receiver {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/cb", l.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let (g, m, secret) = (got.clone(), max.clone(), secret.to_owned());
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                tokio::spawn(serve_conn(
                    s,
                    secret.clone(),
                    delay,
                    g.clone(),
                    in_flight.clone(),
                    m.clone(),
                ));
            }
        });
        Receiver {
            url,
            got,
            max_in_flight: max,
        }
    }

    fn msgids(&self) -> Vec<i64> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|v| v["eventType"] == "1")
            .map(|v| v["msgidServer"].as_str().unwrap().parse().unwrap())
            .collect()
    }

    async fn until(&self, within: Duration, what: &str, pred: impl Fn(&[i64]) -> bool) {
        let deadline = Instant::now() + within;
        while !pred(&self.msgids()) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {:?}",
                self.msgids()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn ok(nim: &NimClient, endpoint: &str, params: &[(&str, &str)]) -> Value {
    let v = nim.call(endpoint, params).await.unwrap();
    assert_eq!(v["code"], 200, "{endpoint} {params:?}: {v}");
    v
}

async fn send(nim: &NimClient, i: usize) -> i64 {
    let body = json!({ "msg": format!("m{i}") }).to_string();
    let r = ok(
        nim,
        "msg/sendMsg",
        &[
            ("from", "a"),
            ("ope", "0"),
            ("to", "b"),
            ("type", "0"),
            ("body", &body),
        ],
    )
    .await;
    r["data"]["msgid"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_at_a_time_delivers_an_apps_events_and_a_survivor_takes_over() {
    let pg = PgSchema::new();
    let nats = Nats::start();
    let prefix = format!("qt{}", qunfa_core::random_hex(4));
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let opts = |d: &tempfile::TempDir| Opts {
        dir: d.path().to_owned(),
        store: Some(pg.url()),
        bus: Some(nats.url()),
        env: vec![
            ("QUNFA_BUS__PREFIX".into(), prefix.clone()),
            ("QUNFA_API__APP_REFRESH_MS".into(), "100".into()),
            ("QUNFA_CALLBACKS__POLL_MS".into(), "50".into()),
            ("QUNFA_CALLBACKS__TIMEOUT_MS".into(), "1000".into()),
            ("QUNFA_CALLBACKS__LEASE_MS".into(), "2000".into()),
        ],
        listen: None,
    };
    let mut nodes = Serve::start_all(dirs.iter().map(opts).collect());
    let (appkey, secret) = nodes.iter().find_map(|n| n.app.clone()).unwrap();
    let nim: Vec<NimClient> = nodes
        .iter()
        .map(|n| NimClient::new(&n.url, &appkey, &secret))
        .collect();
    for a in ["a", "b"] {
        ok(&nim[0], "user/create", &[("accid", a)]).await;
    }
    let r = Receiver::start(&secret, Duration::from_millis(20)).await;
    ok(
        &nim[0],
        "app/setCallback",
        &[("url", &r.url), ("events", "messages")],
    )
    .await;
    // The other nodes read the app table every 100 ms.
    tokio::time::sleep(Duration::from_millis(600)).await;

    let mut sent = Vec::new();
    for i in 0..30 {
        sent.push(send(&nim[i % 3], i).await);
    }
    r.until(Duration::from_secs(30), "30 copies", |got| got.len() >= 30)
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = r.msgids();
    assert_eq!(got, sent, "each once, in msgid order, from whichever node");
    assert_eq!(
        r.max_in_flight.load(Ordering::SeqCst),
        1,
        "never two requests of the app at once: one node at a time"
    );

    // Slow receiver, more events through node 2, and nodes 0 and 1 die meanwhile: whichever
    // held the lease, node 2 ends up sending everything that is left.
    let r2 = Receiver::start(&secret, Duration::from_millis(150)).await;
    ok(&nim[2], "app/setCallback", &[("url", &r2.url)]).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut more = Vec::new();
    for i in 0..20 {
        more.push(send(&nim[2], 100 + i).await);
    }
    r2.until(Duration::from_secs(20), "the first copies", |got| {
        got.len() >= 3
    })
    .await;
    nodes[0].kill9();
    nodes[1].kill9();
    let want: BTreeSet<i64> = more.iter().copied().collect();
    r2.until(
        Duration::from_secs(30),
        "every copy after the kills",
        |got| want.is_subset(&got.iter().copied().collect()),
    )
    .await;
    let got = r2.msgids();
    assert!(
        got.len() <= more.len() + 1,
        "at most the request in flight at the kill is repeated: {got:?}"
    );
}
