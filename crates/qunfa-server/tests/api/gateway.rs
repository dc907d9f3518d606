//! The WebSocket gateway over real WebSockets: login codes, catch-up after a cursor, live
//! events, the sync-to-live hand-over under concurrent sends, several devices, kicks, recalls,
//! receipts and statistics, slow consumers.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::harness::TestServer;
use crate::ws::{Client, End};

async fn user(s: &TestServer, accid: &str) -> String {
    let token = format!("token-of-{accid}");
    let r = s
        .call("user/create", &[("accid", accid), ("token", &token)])
        .await;
    assert_eq!(r["code"], 200, "{r}");
    token
}

async fn online(
    s: &TestServer,
    accid: &str,
    token: &str,
    cursor: i64,
) -> (Client, Vec<Value>, i64) {
    let mut c = Client::connect(s).await;
    let r = c.login(&s.app.appkey, accid, token, cursor).await;
    assert_eq!(r["code"], 200, "{r}");
    let (frames, cur) = c.until_synced().await;
    (c, frames, cur)
}

async fn p2p(s: &TestServer, from: &str, to: &str, text: &str) -> i64 {
    let body = json!({ "msg": text }).to_string();
    let r = s
        .call(
            "msg/sendMsg",
            &[
                ("from", from),
                ("ope", "0"),
                ("to", to),
                ("type", "0"),
                ("body", &body),
            ],
        )
        .await;
    r["data"]["msgid"].as_i64().unwrap_or_else(|| panic!("{r}"))
}

fn ids(frames: &[Value]) -> Vec<i64> {
    frames
        .iter()
        .map(|f| {
            if f["op"] == "msg" {
                f["msg"]["msgid"].as_i64().unwrap()
            } else {
                f["msgid"].as_i64().unwrap()
            }
        })
        .collect()
}

#[tokio::test]
async fn login_answers_nim_codes_and_closes_4001() {
    let s = TestServer::start().await;
    let token = user(&s, "a").await;
    user(&s, "blocked").await;
    assert_eq!(
        s.call("user/block", &[("accid", "blocked")]).await["code"],
        200
    );
    let (other, _) = s.new_app("off").await;
    s.state()
        .services
        .store
        .set_app_disabled(&other.appkey, true)
        .await
        .unwrap();
    s.state().services.apps.reload().await.unwrap();
    let cases = [
        (
            json!({"op": "login", "appkey": "nope", "accid": "a", "token": token, "cursor": 0}),
            json!({"op": "login", "code": 414, "desc": "appkey"}),
        ),
        (
            json!({"op": "login", "appkey": other.appkey, "accid": "a", "token": "x", "cursor": 0}),
            json!({"op": "login", "code": 403, "desc": "app is forbidden"}),
        ),
        (
            json!({"op": "login", "appkey": s.app.appkey, "accid": "a", "token": "wrong", "cursor": 0}),
            json!({"op": "login", "code": 302, "desc": "wrong accid or token"}),
        ),
        (
            json!({"op": "login", "appkey": s.app.appkey, "accid": "ghost", "token": token, "cursor": 0}),
            json!({"op": "login", "code": 302, "desc": "wrong accid or token"}),
        ),
        (
            json!({"op": "login", "appkey": s.app.appkey, "accid": "blocked", "token": "token-of-blocked", "cursor": 0}),
            json!({"op": "login", "code": 422, "desc": "account is blocked"}),
        ),
        (
            json!({"op": "login", "appkey": s.app.appkey, "accid": "a"}),
            json!({"op": "login", "code": 414, "desc": "bad login: missing field `token`"}),
        ),
    ];
    for (frame, answer) in cases {
        let mut c = Client::connect(&s).await;
        c.send(frame.clone()).await;
        let (frames, end) = c.until_end().await;
        assert_eq!(frames, vec![answer], "{frame}");
        assert_eq!(end, End::Closed(4001), "{frame}");
    }
    let mut c = Client::connect(&s).await;
    let r = c.login(&s.app.appkey, "A", &token, 0).await;
    assert_eq!(
        r,
        json!({"op": "login", "code": 200, "accid": "a", "cursor": 0, "time": s.clock_ms()})
    );
}

#[tokio::test]
async fn catch_up_after_the_cursor_then_live_events() {
    let s = TestServer::start().await;
    let token = user(&s, "b").await;
    user(&s, "a").await;
    let m1 = p2p(&s, "a", "b", "one").await;
    let m2 = p2p(&s, "a", "b", "two").await;
    let body = json!({"msg": "to all"}).to_string();
    let r = s
        .call(
            "msg/sendMsgToAll",
            &[
                ("from", "a"),
                ("type", "0"),
                ("body", &body),
                ("markRead", "1"),
            ],
        )
        .await;
    let m3 = r["data"]["msgid"].as_i64().unwrap();

    let (_c, frames, cursor) = online(&s, "b", &token, 0).await;
    assert_eq!(ids(&frames), [m1, m2, m3]);
    assert_eq!(cursor, m3);
    assert_eq!(
        frames[0],
        json!({"op": "msg", "msg": {"kind": "p2p", "msgid": m1, "from": "a", "to": "b", "sendtime": s.clock_ms(), "type": 0, "body": {"msg": "one"}}})
    );
    assert_eq!(
        frames[2],
        json!({"op": "msg", "msg": {"kind": "mass", "msgid": m3, "from": "a", "sendtime": s.clock_ms(), "type": 0, "body": {"msg": "to all"}, "markRead": true}})
    );

    let (mut c, frames, cursor) = online(&s, "b", &token, m1).await;
    assert_eq!((ids(&frames), cursor), (vec![m2, m3], m3));
    // Live.
    let m4 = p2p(&s, "a", "b", "live").await;
    assert_eq!(ids(&[c.next().await.unwrap()]), [m4]);
    let r = s
        .call("msg/broadcastMsg", &[("body", "hello everyone")])
        .await;
    let f = c.next().await.unwrap();
    assert_eq!(f["msg"]["kind"], "broadcast");
    assert_eq!(f["msg"]["msgid"], r["msg"]["broadcastId"]);
    assert_eq!(f["msg"]["body"], "hello everyone");
    c.send(json!({"op": "ping"})).await;
    assert_eq!(
        c.next().await.unwrap(),
        json!({"op": "pong", "time": s.clock_ms()})
    );
}

#[tokio::test]
async fn no_gap_and_no_duplicate_at_the_hand_over_under_concurrent_sends() {
    let s = TestServer::with(|c| {
        c.rate_limits.enabled = false;
        c.gateway.sync_page = 7;
    })
    .await;
    let token = user(&s, "b").await;
    user(&s, "a").await;
    for i in 0..40 {
        p2p(&s, "a", "b", &format!("before {i}")).await;
    }
    // Keep sending while the client logs in and catches up.
    let sender = {
        let client = s.client.clone();
        tokio::spawn(async move {
            let mut sent = Vec::new();
            for i in 0..200 {
                let body = json!({ "msg": format!("during {i}") }).to_string();
                let r = client
                    .call(
                        "msg/sendMsg",
                        &[
                            ("from", "a"),
                            ("ope", "0"),
                            ("to", "b"),
                            ("type", "0"),
                            ("body", &body),
                        ],
                    )
                    .await
                    .unwrap();
                sent.push(r["data"]["msgid"].as_i64().unwrap());
            }
            sent
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let (mut c, mut frames, _) = online(&s, "b", &token, 0).await;
    let sent = sender.await.unwrap();
    let last = *sent.last().unwrap();
    while ids(&frames).last() != Some(&last) {
        frames.push(c.next().await.unwrap());
    }
    let got = ids(&frames);
    assert_eq!(got.len(), 240, "every message once");
    assert!(
        got.windows(2).all(|w| w[0] < w[1]),
        "in msgid order, no duplicate"
    );
    let all: HashSet<i64> = got.iter().copied().collect();
    assert!(sent.iter().all(|m| all.contains(m)));
}

#[tokio::test]
async fn every_device_of_an_account_gets_everything() {
    let s = TestServer::start().await;
    let token = user(&s, "b").await;
    user(&s, "a").await;
    let (mut phone, ..) = online(&s, "b", &token, 0).await;
    let (mut web, ..) = online(&s, "b", &token, 0).await;
    let m = p2p(&s, "a", "b", "both").await;
    assert_eq!(ids(&[phone.next().await.unwrap()]), [m]);
    assert_eq!(ids(&[web.next().await.unwrap()]), [m]);
}

#[tokio::test]
async fn block_with_needkick_and_refresh_token_end_sessions() {
    let s = TestServer::start().await;
    let token = user(&s, "b").await;
    let (mut c, ..) = online(&s, "b", &token, 0).await;
    assert_eq!(s.call("user/block", &[("accid", "b")]).await["code"], 200);
    c.send(json!({"op": "ping"})).await;
    assert_eq!(
        c.next().await.unwrap()["op"],
        "pong",
        "needkick=false keeps the session"
    );
    assert_eq!(
        s.call("user/block", &[("accid", "b"), ("needkick", "true")])
            .await["code"],
        200
    );
    assert_eq!(
        c.until_end().await,
        (
            vec![json!({"op": "kick", "reason": "blocked"})],
            End::Closed(4003)
        )
    );

    assert_eq!(s.call("user/unblock", &[("accid", "b")]).await["code"], 200);
    let (mut c, ..) = online(&s, "b", &token, 0).await;
    assert_eq!(
        s.call("user/refreshToken", &[("accid", "b")]).await["code"],
        200
    );
    assert_eq!(
        c.until_end().await,
        (
            vec![json!({"op": "kick", "reason": "token refreshed"})],
            End::Closed(4003)
        )
    );
    let mut c = Client::connect(&s).await;
    assert_eq!(
        c.login(&s.app.appkey, "b", &token, 0).await["code"],
        302,
        "the old token is dead"
    );
}

#[tokio::test]
async fn recalls_reach_clients_live_and_on_catch_up() {
    let s = TestServer::start().await;
    let token = user(&s, "b").await;
    user(&s, "a").await;
    let (mut c, ..) = online(&s, "b", &token, 0).await;
    let m = p2p(&s, "a", "b", "oops").await;
    assert_eq!(ids(&[c.next().await.unwrap()]), [m]);
    let ms = m.to_string();
    let r = s
        .call(
            "msg/recall",
            &[
                ("deleteMsgid", &ms),
                ("timetag", "0"),
                ("type", "7"),
                ("from", "a"),
                ("to", "b"),
            ],
        )
        .await;
    assert_eq!(r["code"], 200);
    let f = c.next().await.unwrap();
    assert_eq!(
        f,
        json!({"op": "recall", "msgid": f["msgid"], "recallMsgid": m, "from": "a", "time": s.clock_ms()})
    );
    // A client that was away gets the recall notice, not the message.
    let body = json!({"msg": "sale"}).to_string();
    let mass = s
        .call("msg/sendMsgToAll", &[("type", "0"), ("body", &body)])
        .await["data"]["msgid"]
        .as_i64()
        .unwrap();
    assert_eq!(ids(&[c.next().await.unwrap()]), [mass]);
    let mass_s = mass.to_string();
    assert_eq!(
        s.call("msg/recallMassMsg", &[("msgid", &mass_s)]).await["code"],
        200
    );
    assert_eq!(c.next().await.unwrap()["recallMsgid"], mass);
    let (_c2, frames, _) = online(&s, "b", &token, 0).await;
    assert_eq!(
        frames
            .iter()
            .map(|f| (f["op"].as_str().unwrap(), f["recallMsgid"].as_i64()))
            .collect::<Vec<_>>(),
        [("recall", Some(m)), ("recall", Some(mass))]
    );
}

#[tokio::test]
async fn acks_reads_receipts_and_statistics() {
    let s = TestServer::start().await;
    let tokens: Vec<String> = futures_join(&s, &["sender", "a", "b", "c"]).await;
    let body = json!({"msg": "please read"}).to_string();
    let r = s
        .call(
            "msg/sendMsgToAll",
            &[
                ("from", "sender"),
                ("type", "0"),
                ("body", &body),
                ("markRead", "1"),
            ],
        )
        .await;
    let m = r["data"]["msgid"].as_i64().unwrap();
    let ms = m.to_string();
    let stats = |list: Option<&'static str>| {
        let ms = ms.clone();
        let s = &s;
        async move {
            let mut p = vec![("msgid", ms.as_str())];
            if let Some(l) = list {
                p.push(("list", l));
            }
            s.call("msg/queryMassMsgStats", &p).await
        }
    };
    assert_eq!(
        stats(None).await,
        json!({"code": 200, "data": {"msgid": m, "recipients": 3, "delivered": 0, "read": 0}})
    );

    let (mut sender, ..) = online(&s, "sender", &tokens[0], 0).await;
    let (mut a, frames, cur) = online(&s, "a", &tokens[1], 0).await;
    assert_eq!(ids(&frames), [m]);
    a.send(json!({"op": "ack", "cursor": cur})).await;
    a.send(json!({"op": "read", "msgids": [m]})).await;
    let receipt = sender.next().await.unwrap();
    assert_eq!(
        receipt,
        json!({"op": "receipt", "msgid": m, "reader": "a", "time": s.clock_ms()})
    );
    let (b, ..) = online(&s, "b", &tokens[2], 0).await;
    drop(b);
    // b's ack comes over the API-less path: a read report without an ack still counts as delivered.
    let mut b = Client::connect(&s).await;
    b.login(&s.app.appkey, "b", &tokens[2], m).await;
    b.until_synced().await;
    b.send(json!({"op": "ack", "cursor": m})).await;
    b.send(json!({"op": "ping"})).await;
    assert_eq!(b.next().await.unwrap()["op"], "pong");
    assert_eq!(
        stats(None).await,
        json!({"code": 200, "data": {"msgid": m, "recipients": 3, "delivered": 2, "read": 1}})
    );
    assert_eq!(
        stats(Some("unread")).await,
        json!({"code": 200, "data": {"msgid": m, "recipients": 3, "delivered": 2, "read": 1, "list": "unread", "accids": ["b", "c"], "cursor": -1}})
    );
    assert_eq!(stats(Some("read")).await["data"]["accids"], json!(["a"]));
    assert_eq!(
        stats(Some("undelivered")).await["data"]["accids"],
        json!(["c"])
    );
    // Paging.
    let r = s
        .call(
            "msg/queryMassMsgStats",
            &[("msgid", &ms), ("list", "unread"), ("limit", "1")],
        )
        .await;
    assert_eq!(
        (
            r["data"]["accids"].clone(),
            r["data"]["cursor"].as_i64().unwrap() >= 0
        ),
        (json!(["b"]), true)
    );
    let next = r["data"]["cursor"].to_string();
    let r = s
        .call(
            "msg/queryMassMsgStats",
            &[
                ("msgid", &ms),
                ("list", "unread"),
                ("limit", "1"),
                ("cursor", &next),
            ],
        )
        .await;
    assert_eq!(
        (r["data"]["accids"].clone(), r["data"]["cursor"].clone()),
        (json!(["c"]), json!(-1))
    );

    let r = s.call("msg/queryMassMsgStats", &[("msgid", "99999")]).await;
    assert_eq!(r, json!({"code": 404, "desc": "msgid 99999 not found"}));
    let r = s
        .call("msg/queryMassMsgStats", &[("msgid", &ms), ("list", "all")])
        .await;
    assert_eq!(
        r,
        json!({"code": 414, "desc": "list must be read, unread or undelivered: \"all\""})
    );

    // NIM's server-side point-to-point receipt, by the app's msgidclient.
    let body = json!({"msg": "p2p"}).to_string();
    let r = s
        .call(
            "msg/sendMsg",
            &[
                ("from", "sender"),
                ("ope", "0"),
                ("to", "c"),
                ("type", "0"),
                ("body", &body),
                ("msgidclient", "client-1"),
            ],
        )
        .await;
    let p = r["data"]["msgid"].as_i64().unwrap();
    let r = s
        .call(
            "msg/markReadMsg",
            &[("from", "c"), ("to", "sender"), ("msgidClient", "client-1")],
        )
        .await;
    assert_eq!(r, json!({"code": 200, "data": {"timestamp": s.clock_ms()}}));
    assert_eq!(
        sender.next().await.unwrap(),
        json!({"op": "receipt", "msgid": p, "reader": "c", "time": s.clock_ms()})
    );
    let r = s
        .call(
            "msg/markReadMsg",
            &[("from", "c"), ("to", "a"), ("msgidClient", "client-1")],
        )
        .await;
    assert_eq!(
        r,
        json!({"code": 404, "desc": "message not found: check from, to and msgidClient"})
    );
    let ps = p.to_string();
    assert_eq!(
        s.call("msg/queryMassMsgStats", &[("msgid", &ps)]).await["data"],
        json!({"msgid": p, "recipients": 1, "delivered": 1, "read": 1})
    );
}

async fn futures_join(s: &TestServer, accids: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for a in accids {
        out.push(user(s, a).await);
    }
    out
}

#[tokio::test]
async fn a_slow_consumer_is_closed_and_catches_up_on_reconnect() {
    let s = TestServer::with(|c| {
        c.rate_limits.enabled = false;
        c.gateway.queue_frames = 64;
    })
    .await;
    let token = user(&s, "slow").await;
    user(&s, "a").await;
    let mut slow = Client::connect_small_window(&s).await;
    assert_eq!(
        slow.login(&s.app.appkey, "slow", &token, 0).await["code"],
        200
    );
    assert_eq!(slow.next().await.unwrap()["op"], "synced");
    let fast_token = user(&s, "fast").await;
    let (mut fast, ..) = online(&s, "fast", &fast_token, 0).await;
    const N: usize = 600;
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        while got.len() < N {
            got.push(
                fast.next().await.expect("the fast client stays connected")["msg"]["msgid"]
                    .as_i64()
                    .unwrap(),
            );
        }
        got
    });
    // The slow client reads nothing while 600 messages of ~15 KB (9 MB, more than the kernel
    // buffers between it and the server hold) go to everyone.
    let big = json!({"msg": "群".repeat(4980)}).to_string();
    let mut sent = Vec::new();
    for _ in 0..N {
        let r = s
            .call(
                "msg/sendMsgToAll",
                &[("from", "a"), ("type", "0"), ("body", &big)],
            )
            .await;
        sent.push(r["data"]["msgid"].as_i64().unwrap());
    }
    // The fast one got everything, undelayed by the slow one.
    assert_eq!(reader.await.unwrap(), sent);
    let (frames, end) = slow.until_end().await;
    assert_eq!(end, End::Closed(4008));
    let seen: Vec<i64> = frames
        .iter()
        .filter_map(|f| f["msg"]["msgid"].as_i64())
        .collect();
    assert!(seen.len() < sent.len(), "it fell behind");
    assert_eq!(seen, sent[..seen.len()], "what it got, it got in order");
    // Reconnecting with its cursor, it catches up from the store.
    let cursor = seen.last().copied().unwrap_or(0);
    let (_c, rest, last) = online(&s, "slow", &token, cursor).await;
    assert_eq!(last, *sent.last().unwrap());
    let mut all = seen;
    all.extend(ids(&rest));
    assert_eq!(all, sent);
}

#[tokio::test]
async fn login_and_idle_timeouts_close_4002() {
    let s = TestServer::with(|c| {
        c.gateway.login_timeout_secs = 1;
        c.gateway.ping_secs = 1;
        c.gateway.idle_timeout_secs = 1;
    })
    .await;
    let mut c = Client::connect(&s).await;
    assert_eq!(c.until_end().await, (vec![], End::Closed(4002)));
    // A client that never reads (so never answers pings) is closed.
    let token = user(&s, "b").await;
    let mut c = Client::connect(&s).await;
    assert_eq!(c.login(&s.app.appkey, "b", &token, 0).await["code"], 200);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let (_, end) = c.until_end().await;
    assert_eq!(end, End::Closed(4002));
}

#[tokio::test]
async fn shutdown_closes_sessions_with_1001_after_flushing_reports() {
    let mut s = TestServer::start().await;
    let token = user(&s, "b").await;
    user(&s, "a").await;
    let m = p2p(&s, "a", "b", "last words").await;
    let (mut c, frames, cursor) = online(&s, "b", &token, 0).await;
    assert_eq!(ids(&frames), [m]);
    c.send(json!({"op": "ack", "cursor": cursor})).await;
    c.send(json!({"op": "ping"})).await;
    assert_eq!(c.next().await.unwrap()["op"], "pong");
    s.stop();
    assert_eq!(c.until_end().await, (vec![], End::Closed(1001)));
    // The ack reached the store on the way down.
    let mut delivered = Vec::new();
    for _ in 0..100 {
        delivered = s
            .state()
            .services
            .store
            .delivered(s.app.id, qunfa_core::ids::MsgId(m))
            .await
            .unwrap();
        if !delivered.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(delivered.len(), 1);
}

/// With enough sessions online for the hub to walk them in chunks, point-to-point messages
/// mixed between targeted sends reach their account in msgid order, each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_sends_reach_each_session_in_msgid_order() {
    let s = TestServer::with(|c| c.rate_limits.enabled = false).await;
    user(&s, "sender").await;
    let mut clients = Vec::new();
    for i in 0..40 {
        let accid = format!("m{i}");
        let token = user(&s, &accid).await;
        let (c, ..) = online(&s, &accid, &token, 0).await;
        clients.push(c);
    }
    let body = json!({"msg": "x"}).to_string();
    let mut calls = Vec::new();
    for i in 0..60 {
        let (client, body) = (s.client.clone(), body.clone());
        calls.push(tokio::spawn(async move {
            let r = if i % 2 == 0 {
                client
                    .call(
                        "msg/sendMsgToAll",
                        &[("from", "sender"), ("type", "0"), ("body", &body)],
                    )
                    .await
            } else {
                client
                    .call(
                        "msg/sendMsg",
                        &[
                            ("from", "sender"),
                            ("ope", "0"),
                            ("to", "m0"),
                            ("type", "0"),
                            ("body", &body),
                        ],
                    )
                    .await
            };
            r.unwrap()["data"]["msgid"].as_i64().unwrap()
        }));
    }
    let mut sent = Vec::new();
    for c in calls {
        sent.push(c.await.unwrap());
    }
    sent.sort();
    let mut got = Vec::new();
    while got.len() < sent.len() {
        got.push(
            clients[0].next().await.unwrap()["msg"]["msgid"]
                .as_i64()
                .unwrap(),
        );
    }
    assert_eq!(got, sent, "m0 got every message once, in msgid order");
    let mut other = Vec::new();
    while other.len() < 30 {
        other.push(
            clients[39].next().await.unwrap()["msg"]["msgid"]
                .as_i64()
                .unwrap(),
        );
    }
    assert!(other.windows(2).all(|w| w[0] < w[1]));
}
