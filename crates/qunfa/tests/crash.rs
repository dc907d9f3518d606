//! Crash safety, end to end: a real `qunfa serve` is killed with SIGKILL in the middle of a
//! send load (sendMsg and sendMsgToAll mixed) while WebSocket clients receive, then restarted on
//! the same data directory. Every send the API acknowledged with 200 must reach every one of
//! its recipients, through the clients' live frames plus a reconnect with their last cursor;
//! every message a client saw live must have been durable; a send whose answer was lost in the
//! crash is all-or-nothing.
//!
//! `live_delivery_is_in_msgid_order` guards a bug found here: concurrent sends commit in msgid
//! order (group commit), and live delivery must follow that order (the store's commit hook
//! publishes), or a client that reconnects with "the highest msgid I have" (docs/protocol.md)
//! skips a message still on its way. The crash test below also reports any such skip.
//!
//! Every send carries a unique `msgidclient`, which the frames echo: that is how a message whose
//! answer never came back is matched to the send that made it.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use qunfa_server::client::NimClient;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use support::{Opts, PgSchema, Serve as Server};

/// Where the server under test keeps its data.
#[derive(Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

fn start(dir: &Path, backend: Backend, pg: &PgSchema) -> Server {
    Server::start(Opts {
        dir: dir.to_owned(),
        store: matches!(backend, Backend::Postgres).then(|| pg.url()),
        ..Opts::default()
    })
}

const ACCOUNTS: usize = 20;
/// Accounts with a live WebSocket during the load.
const LIVE: usize = 4;
const SENDERS: usize = 4;
const WAIT: Duration = Duration::from_secs(20);

fn accid(i: usize) -> String {
    format!("c{i:02}")
}

fn token(i: usize) -> String {
    format!("token-{i:02}")
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// (msgid, msgidclient) of a message frame.
fn message_of(v: &Value) -> Option<(i64, String)> {
    if v["op"] != "msg" {
        return None;
    }
    let id = v["msg"]["msgid"].as_i64()?;
    let key = v["msg"]["msgidclient"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    Some((id, key))
}

/// Logs in; answers the connection and the messages of the catch-up, once `synced` came.
async fn login(url: &str, appkey: &str, i: usize, cursor: i64) -> (Ws, Vec<(i64, String)>) {
    let ws_url = format!("{}/ws", url.replacen("http", "ws", 1));
    let (c, frames) = support::Client::login(&ws_url, appkey, &accid(i), &token(i), cursor).await;
    (c.ws, frames.iter().filter_map(message_of).collect())
}

/// Frames a live client received, in arrival order, until its connection died.
async fn receive(mut ws: Ws, seen: Arc<Mutex<Vec<(i64, String)>>>) {
    while let Some(Ok(m)) = ws.next().await {
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if let Some(msg) = message_of(&v) {
                seen.lock().unwrap().push(msg);
            }
        }
    }
}

/// splitmix64, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
}

/// One send the load made: who it was for, and its msgid when the API acknowledged it.
#[derive(Clone, Debug)]
struct Attempt {
    recipients: BTreeSet<usize>,
    acked: Option<i64>,
}

/// Sends until the server dies (or a bound is hit). Answers the attempts, by msgidclient.
async fn load(nim: NimClient, seed: u64, stop: Arc<AtomicBool>) -> BTreeMap<String, Attempt> {
    let mut rng = Rng(seed);
    let mut out = BTreeMap::new();
    for n in 0..5_000 {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let key = format!("s{seed}-{n}");
        let (endpoint, params, recipients): (_, Vec<(&str, String)>, BTreeSet<usize>) =
            match rng.below(3) {
                0 => {
                    let from = rng.below(ACCOUNTS);
                    let to = (from + 1 + rng.below(ACCOUNTS - 1)) % ACCOUNTS;
                    let params = vec![
                        ("from", accid(from)),
                        ("ope", "0".into()),
                        ("to", accid(to)),
                    ];
                    ("msg/sendMsg", params, BTreeSet::from([to]))
                }
                1 => ("msg/sendMsgToAll", vec![], (0..ACCOUNTS).collect()),
                _ => {
                    let to: BTreeSet<usize> = (0..5).map(|_| rng.below(ACCOUNTS)).collect();
                    let list: Vec<String> = to.iter().map(|&i| accid(i)).collect();
                    let params = vec![("toAccids", serde_json::to_string(&list).unwrap())];
                    ("msg/sendMsgToAll", params, to)
                }
            };
        let mut params = params;
        params.push(("type", "0".into()));
        params.push(("body", json!({"msg": key}).to_string()));
        params.push(("msgidclient", key.clone()));
        let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let answer = nim.call(endpoint, &borrowed).await;
        let acked = match &answer {
            Ok(v) => {
                assert_eq!(v["code"], 200, "{endpoint} answered {v}");
                Some(v["data"]["msgid"].as_i64().unwrap())
            }
            // The server died: the outcome of this send is unknown, and so is any later one.
            Err(_) => None,
        };
        out.insert(key, Attempt { recipients, acked });
        if acked.is_none() {
            break;
        }
    }
    out
}

fn increasing(list: &[(i64, String)]) -> bool {
    list.windows(2).all(|w| w[0].0 < w[1].0)
}

/// Accounts created, live clients logged in: the server, its app, and the live clients' frames.
async fn setup(
    dir: &Path,
    backend: Backend,
    pg: &PgSchema,
) -> (Server, NimClient, String, Vec<Live>) {
    let server = start(dir, backend, pg);
    let (appkey, secret) = server.app.clone().expect("the first start prints the app");
    let nim = NimClient::new(&server.url, &appkey, &secret);
    for i in 0..ACCOUNTS {
        let v = nim
            .call("user/create", &[("accid", &accid(i)), ("token", &token(i))])
            .await
            .unwrap();
        assert_eq!(v["code"], 200, "{v}");
    }
    let mut live = Vec::new();
    for i in 0..LIVE {
        let (ws, caught_up) = login(&server.url, &appkey, i, 0).await;
        assert!(caught_up.is_empty());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn(receive(ws, seen.clone()));
        live.push((seen, task));
    }
    (server, nim, appkey, live)
}

type Live = (Arc<Mutex<Vec<(i64, String)>>>, tokio::task::JoinHandle<()>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_delivery_is_in_msgid_order() {
    in_msgid_order(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_delivery_is_in_msgid_order_on_postgres() {
    in_msgid_order(Backend::Postgres).await;
}

async fn in_msgid_order(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let pg = PgSchema::new();
    let (server, nim, _, live) = setup(dir.path(), backend, &pg).await;
    let stop = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..SENDERS as u64)
        .map(|seed| tokio::spawn(load(nim.clone(), seed + 1, stop.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        s.await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (i, (seen, _)) in live.iter().enumerate() {
        let ids: Vec<i64> = seen.lock().unwrap().iter().map(|m| m.0).collect();
        let late: Vec<(i64, i64)> = ids
            .windows(2)
            .filter(|w| w[0] > w[1])
            .map(|w| (w[0], w[1]))
            .collect();
        assert!(
            late.is_empty(),
            "{} received {} msgids after a higher one (earlier, later): {late:?}",
            accid(i),
            late.len()
        );
    }
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_load_loses_nothing_acknowledged() {
    kill_9_mid_load(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_load_loses_nothing_acknowledged_on_postgres() {
    kill_9_mid_load(Backend::Postgres).await;
}

async fn kill_9_mid_load(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let pg = PgSchema::new();
    // Live clients are logged in before any message exists.
    let (mut server, nim, appkey, mut live) = setup(dir.path(), backend, &pg).await;

    // The load, killed in its middle.
    let stop = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..SENDERS as u64)
        .map(|seed| tokio::spawn(load(nim.clone(), seed + 1, stop.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill9();
    stop.store(true, Ordering::Relaxed);
    let mut attempts: BTreeMap<String, Attempt> = BTreeMap::new();
    for s in senders {
        attempts.extend(s.await.unwrap());
    }
    for (_, task) in &mut live {
        tokio::time::timeout(WAIT, task)
            .await
            .expect("live connections end with the server")
            .unwrap();
    }
    let acked = attempts.values().filter(|a| a.acked.is_some()).count();
    assert!(
        acked >= 20,
        "only {acked} sends acknowledged before the kill"
    );

    // Restart on the same data directory; the live clients come back with their last cursor,
    // and every account also replays everything from cursor 0 (the store's view).
    let server = start(dir.path(), backend, &pg);
    assert!(
        server.app.is_none(),
        "a restart must not create another app"
    );
    let mut client_view: Vec<Vec<(i64, String)>> = Vec::new();
    for (i, (seen, _)) in live.iter().enumerate() {
        let before = seen.lock().unwrap().clone();
        let cursor = before.last().map_or(0, |m| m.0);
        let (_ws, after) = login(&server.url, &appkey, i, cursor).await;
        assert!(increasing(&after), "{} catch-up out of order", accid(i));
        assert!(after.iter().all(|m| m.0 > cursor));
        client_view.push(before.into_iter().chain(after).collect());
    }
    let mut store_view: Vec<Vec<(i64, String)>> = Vec::new();
    for i in 0..ACCOUNTS {
        let (_ws, all) = login(&server.url, &appkey, i, 0).await;
        assert!(increasing(&all), "{} replay out of order", accid(i));
        store_view.push(all);
    }

    // Which msgids each account has, per msgidclient; and that msgids and keys agree.
    let mut msgid_of_key: BTreeMap<String, i64> = BTreeMap::new();
    let mut store_has: Vec<BTreeMap<String, i64>> = vec![BTreeMap::new(); ACCOUNTS];
    for (i, all) in store_view.iter().enumerate() {
        for (id, key) in all {
            let a = attempts
                .get(key)
                .unwrap_or_else(|| panic!("{} got msgid {id} with unknown key {key:?}", accid(i)));
            assert!(
                a.recipients.contains(&i),
                "{} got {key} (msgid {id}), which was not for it",
                accid(i)
            );
            if let Some(acked) = a.acked {
                assert_eq!(
                    *id, acked,
                    "{key}: stored msgid differs from the acknowledged one"
                );
            }
            assert_eq!(*msgid_of_key.entry(key.clone()).or_insert(*id), *id);
            assert!(
                store_has[i].insert(key.clone(), *id).is_none(),
                "{key} twice"
            );
        }
    }

    // 1. Acknowledged: in every recipient's store view, and in every live client's own view
    //    (live frames plus its cursor catch-up), once after de-duplication by msgid. The one
    //    miss allowed in a client's view is one the ordering bug explains: a higher msgid
    //    arrived live before it, so the reconnect cursor passed it (reported, not failed).
    let mut skipped_by_order = 0;
    for (key, a) in &attempts {
        let Some(id) = a.acked else { continue };
        for &r in &a.recipients {
            assert!(
                store_has[r].contains_key(key),
                "acknowledged {key} (msgid {id}) lost for {}",
                accid(r)
            );
            if r < LIVE && !client_view[r].iter().any(|m| m.0 == id) {
                let passed = live[r].0.lock().unwrap().iter().any(|m| m.0 > id);
                assert!(
                    passed,
                    "{} never received acknowledged msgid {id} ({key}) live or after reconnecting",
                    accid(r)
                );
                skipped_by_order += 1;
            }
        }
    }
    // 2. Seen live before the crash, acknowledged or not: durable.
    for (r, view) in client_view.iter().enumerate() {
        for (id, key) in view {
            assert_eq!(
                store_has[r].get(key),
                Some(id),
                "{} saw msgid {id} ({key}) live but it is not in the store after the restart",
                accid(r)
            );
        }
    }
    // 3. Answer lost in the crash: either every recipient has it or none does.
    let mut unknown_stored = 0;
    for (key, a) in attempts.iter().filter(|(_, a)| a.acked.is_none()) {
        let have: BTreeSet<usize> = (0..ACCOUNTS)
            .filter(|&r| store_has[r].contains_key(key))
            .collect();
        assert!(
            have.is_empty() || have == a.recipients,
            "{key} half-delivered: recipients {:?}, stored for {have:?}",
            a.recipients
        );
        unknown_stored += usize::from(!have.is_empty());
    }
    eprintln!(
        "crash test: {} sends attempted, {acked} acknowledged, {unknown_stored} of the unanswered \
         ones committed anyway; {skipped_by_order} acknowledged deliveries skipped by a live \
         client's reconnect cursor because they arrived out of msgid order",
        attempts.len()
    );
}
