//! `history/*`: session and broadcast history, and qunfa's per-account and mass listings.

use qunfa_core::account::Accid;
use qunfa_core::clock::Clock;
use qunfa_core::message::{MsgKind, NewMessage};
use serde_json::{Value, json};

use crate::harness::{TestServer, create_users};

/// What a send answered.
#[derive(Clone, Copy, Debug)]
struct Sent {
    msgid: i64,
    timetag: i64,
}

/// Calls a send endpoint that answers `{"data":{"msgid","timetag",…}}`.
async fn sent(s: &TestServer, endpoint: &str, params: &[(&str, &str)]) -> Sent {
    let r = s.call(endpoint, params).await;
    assert_eq!(r["code"], 200, "{endpoint}: {r}");
    Sent {
        msgid: r["data"]["msgid"].as_i64().unwrap(),
        timetag: r["data"]["timetag"].as_i64().unwrap(),
    }
}

/// A text message `from` → `to`.
async fn text(s: &TestServer, from: &str, to: &str, msg: &str) -> Sent {
    let body = json!({ "msg": msg }).to_string();
    let p = [
        ("from", from),
        ("ope", "0"),
        ("to", to),
        ("type", "0"),
        ("body", body.as_str()),
    ];
    sent(s, "msg/sendMsg", &p).await
}

/// `msg/broadcastMsg`; answers its `msg` object.
async fn broadcast(s: &TestServer, params: &[(&str, &str)]) -> Value {
    let r = s.call("msg/broadcastMsg", params).await;
    assert_eq!(r["code"], 200, "{r}");
    r["msg"].clone()
}

/// `base` with the pairs of `over` replacing (or adding to) its own.
fn merged<'a>(base: &[(&'a str, &'a str)], over: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut p: Vec<_> = base
        .iter()
        .filter(|(k, _)| !over.iter().any(|(o, _)| o == k))
        .copied()
        .collect();
    p.extend_from_slice(over);
    p
}

fn refused(desc: &str) -> Value {
    json!({"code": 414, "desc": desc})
}

fn not_found(id: i64) -> Value {
    json!({"code": 404, "desc": format!("broadcastId {id} not found")})
}

/// A point-to-point message as `querySessionMsg` shows it.
fn in_session(m: Sent, from: &str, to: &str, msg_type: u16, body: Value) -> Value {
    json!({
        "from": from, "to": to, "msgid": m.msgid, "sendtime": m.timetag,
        "type": msg_type, "body": body, "fromclienttype": 32,
    })
}

fn list(msgs: Vec<Value>) -> Value {
    json!({"code": 200, "size": msgs.len(), "msgs": msgs})
}

fn page(msgs: Vec<Value>, cursor: i64) -> Value {
    json!({"code": 200, "size": msgs.len(), "msgs": msgs, "cursor": cursor})
}

#[tokio::test]
async fn session_lists_both_directions_filtered_and_ordered() {
    let s = TestServer::start().await;
    create_users(&s, &["a", "b", "c"]).await;
    let m1 = text(&s, "a", "b", "one").await;
    s.clock.advance_ms(1000);
    let m2 = text(&s, "b", "a", "two").await;
    s.clock.advance_ms(1000);
    let other = text(&s, "a", "c", "elsewhere").await;
    s.clock.advance_ms(1000);
    let m3 = sent(
        &s,
        "msg/sendMsg",
        &[
            ("from", "A"),
            ("ope", "0"),
            ("to", "b"),
            ("type", "100"),
            ("body", r#"{"card":{"n":[1,2]}}"#),
            ("ext", "e3"),
        ],
    )
    .await;
    let j1 = in_session(m1, "a", "b", 0, json!({"msg": "one"}));
    let j2 = in_session(m2, "b", "a", 0, json!({"msg": "two"}));
    let mut j3 = in_session(m3, "a", "b", 100, json!({"card": {"n": [1, 2]}}));
    j3["ext"] = json!("e3");

    let (t1, t3) = (m1.timetag.to_string(), m3.timetag.to_string());
    let base = [
        ("from", "a"),
        ("to", "b"),
        ("begintime", t1.as_str()),
        ("endtime", t3.as_str()),
        ("limit", "100"),
    ];
    let q = |over: Vec<(&'static str, String)>| {
        let s = &s;
        async move {
            let over: Vec<(&str, &str)> = over.iter().map(|(k, v)| (*k, v.as_str())).collect();
            s.call("history/querySessionMsg", &merged(&base, &over))
                .await
        }
    };
    let v = |k: &'static str, v: &str| (k, v.to_owned());

    // Newest first by default; the time range is inclusive at both ends.
    let all_desc = list(vec![j3.clone(), j2.clone(), j1.clone()]);
    assert_eq!(q(vec![]).await, all_desc);
    assert_eq!(q(vec![v("reverse", "2")]).await, all_desc);
    assert_eq!(
        q(vec![v("reverse", "1")]).await,
        list(vec![j1.clone(), j2.clone(), j3.clone()])
    );
    // Both directions, whichever side asks (accids are case-insensitive).
    assert_eq!(q(vec![v("from", "B"), v("to", "a")]).await, all_desc);
    // Time range.
    assert_eq!(
        q(vec![
            v("begintime", &(m1.timetag + 1).to_string()),
            v("endtime", &(m3.timetag - 1).to_string()),
        ])
        .await,
        list(vec![j2.clone()])
    );
    assert_eq!(
        q(vec![
            v("begintime", &(m3.timetag + 1).to_string()),
            v("endtime", &(m3.timetag + 9).to_string())
        ])
        .await,
        list(vec![])
    );
    // limit keeps the first ones in the asked order.
    assert_eq!(
        q(vec![v("limit", "2")]).await,
        list(vec![j3.clone(), j2.clone()])
    );
    assert_eq!(
        q(vec![v("limit", "1"), v("reverse", "1")]).await,
        list(vec![j1.clone()])
    );
    // Type filter.
    assert_eq!(
        q(vec![v("type", "0")]).await,
        list(vec![j2.clone(), j1.clone()])
    );
    assert_eq!(q(vec![v("type", "100, 0")]).await, all_desc);
    assert_eq!(q(vec![v("type", "6,10")]).await, list(vec![]));
    assert_eq!(q(vec![v("type", "")]).await, all_desc);
    // excludeMsgid.
    assert_eq!(
        q(vec![v("excludeMsgid", &m2.msgid.to_string())]).await,
        list(vec![j3.clone(), j1.clone()])
    );
    // Another session; unknown accounts answer nothing.
    assert_eq!(
        q(vec![v("to", "c")]).await,
        list(vec![in_session(
            other,
            "a",
            "c",
            0,
            json!({"msg": "elsewhere"})
        )])
    );
    assert_eq!(q(vec![v("to", "nobody")]).await, list(vec![]));
    assert_eq!(q(vec![v("from", "x"), v("to", "y")]).await, list(vec![]));

    // JSON bodies with numbers work the same.
    let r = s
        .client
        .call_json(
            "history/querySessionMsg",
            &json!({"from": "a", "to": "b", "begintime": m1.timetag, "endtime": m3.timetag, "limit": 100, "reverse": 1}),
        )
        .await
        .unwrap();
    assert_eq!(r, list(vec![j1.clone(), j2.clone(), j3.clone()]));

    // A recalled message leaves the session; an intercepted one never enters it.
    let r = s
        .call(
            "msg/recall",
            &[
                ("deleteMsgid", &m3.msgid.to_string()),
                ("timetag", &m3.timetag.to_string()),
                ("type", "7"),
                ("from", "a"),
                ("to", "b"),
            ],
        )
        .await;
    assert_eq!(r, json!({"code": 200}));
    let r = s
        .call("antispam/setWords", &[("words", r#"["bad"]"#)])
        .await;
    assert_eq!(r, json!({"code": 200}));
    text(&s, "a", "b", "a bad word").await;
    assert_eq!(
        q(vec![v("endtime", &s.clock.now_ms().to_string())]).await,
        list(vec![j2, j1])
    );
}

#[tokio::test]
async fn session_shows_msgidclient_and_bodies_that_are_not_objects() {
    let s = TestServer::start().await;
    let now = s.clock.now_ms();
    let accid = |a: &str| Accid::parse(a, "accid").unwrap();
    let mut msgs = Vec::new();
    for (body, client) in [("not json", Some("c-1")), ("[1,2]", None)] {
        let mut m = NewMessage::new(MsgKind::P2p, accid("a"), 0, body.to_owned());
        m.to = Some(accid("b"));
        m.msgidclient = client.map(str::to_owned);
        msgs.push(m);
    }
    let stored = s
        .state()
        .services
        .store
        .store_messages(s.app.id, msgs, now, now)
        .await
        .unwrap();
    let r = s
        .call(
            "history/querySessionMsg",
            &[
                ("from", "b"),
                ("to", "a"),
                ("begintime", "0"),
                ("endtime", &now.to_string()),
                ("limit", "10"),
                ("reverse", "1"),
            ],
        )
        .await;
    let at = |i: usize| Sent {
        msgid: stored[i].msgid.0,
        timetag: stored[i].timetag,
    };
    let mut first = in_session(at(0), "a", "b", 0, json!("not json"));
    first["msgidclient"] = json!("c-1");
    assert_eq!(
        r,
        list(vec![first, in_session(at(1), "a", "b", 0, json!("[1,2]"))])
    );
}

#[tokio::test]
async fn session_refuses_bad_parameters() {
    let s = TestServer::start().await;
    create_users(&s, &["a", "b"]).await;
    let base = [
        ("from", "a"),
        ("to", "b"),
        ("begintime", "1000"),
        ("endtime", "2000"),
        ("limit", "10"),
    ];
    let call = |over: &'static [(&'static str, &'static str)]| {
        let p = merged(&base, over);
        let s = &s;
        async move { s.call("history/querySessionMsg", &p).await }
    };
    assert_eq!(call(&[]).await, list(vec![]));
    assert_eq!(
        s.call("history/querySessionMsg", &[]).await,
        refused("missing parameter: from")
    );
    let cases: [(&[(&str, &str)], &str); 19] = [
        (&[("from", "")], "missing parameter: from"),
        (&[("to", "")], "missing parameter: to"),
        (
            &[("to", "a b")],
            "to may only contain letters, digits, _ @ . -: \"a b\"",
        ),
        (&[("begintime", "")], "missing parameter: begintime"),
        (
            &[("begintime", "yesterday")],
            "begintime must be an integer: \"yesterday\"",
        ),
        (&[("endtime", "")], "missing parameter: endtime"),
        (
            &[("endtime", "2000.5")],
            "endtime must be an integer: \"2000.5\"",
        ),
        (&[("endtime", "1000")], "bad time"),
        (&[("endtime", "999")], "bad time"),
        (&[("limit", "")], "missing parameter: limit"),
        (&[("limit", "0")], "limit must be 1 to 100: \"0\""),
        (&[("limit", "101")], "limit must be 1 to 100: \"101\""),
        (&[("limit", "-1")], "limit must be 1 to 100: \"-1\""),
        (&[("limit", "ten")], "limit must be 1 to 100: \"ten\""),
        (&[("reverse", "0")], "reverse must be 1 or 2: \"0\""),
        (&[("reverse", "3")], "reverse must be 1 or 2: \"3\""),
        (
            &[("type", "5")],
            "type must be one of 0, 1, 2, 3, 4, 6, 10, 100: \"5\"",
        ),
        (
            &[("type", "0,text")],
            "type must be one of 0, 1, 2, 3, 4, 6, 10, 100: \"text\"",
        ),
        (
            &[("excludeMsgid", "abc")],
            "excludeMsgid must be an integer: \"abc\"",
        ),
    ];
    for (over, desc) in cases {
        assert_eq!(call(over).await, refused(desc), "{over:?}");
    }
}

#[tokio::test]
async fn user_msgs_page_through_p2p_mass_and_broadcast_in_msgid_order() {
    let s = TestServer::start().await;
    create_users(&s, &["a", "b", "c"]).await;
    let p1 = text(&s, "a", "b", "direct").await;
    s.clock.advance_ms(10);
    let mass = sent(
        &s,
        "msg/sendMsgToAll",
        &[
            ("from", "a"),
            ("toAccids", r#"["b","c"]"#),
            ("type", "0"),
            ("body", r#"{"msg":"to some"}"#),
            ("ext", "x"),
            ("markRead", "1"),
        ],
    )
    .await;
    s.clock.advance_ms(10);
    let bc = broadcast(
        &s,
        &[
            ("from", "a"),
            ("body", "hello everyone"),
            ("isOffline", "true"),
        ],
    )
    .await;
    // Not kept for offline clients: never synced.
    let online = broadcast(&s, &[("from", "a"), ("body", "live only")]).await;
    assert!(online["broadcastId"].as_i64() > bc["broadcastId"].as_i64());
    s.clock.advance_ms(10);
    let image = r#"{"url":"http://x/y.jpg","w":10,"h":20}"#;
    let r = s
        .call(
            "msg/sendBatchMsg",
            &[
                ("fromAccid", "c"),
                ("toAccids", r#"["b","a"]"#),
                ("type", "1"),
                ("body", image),
                ("returnMsgid", "true"),
            ],
        )
        .await;
    assert_eq!(r["code"], 200, "{r}");
    let batch_time = r["timetag"].as_i64().unwrap();
    let (to_b, to_a) = (
        r["msgids"]["b"].as_i64().unwrap(),
        r["msgids"]["a"].as_i64().unwrap(),
    );

    let jp1 = json!({"kind": "p2p", "msgid": p1.msgid, "from": "a", "to": "b",
        "sendtime": p1.timetag, "type": 0, "body": {"msg": "direct"}});
    let jmass = json!({"kind": "mass", "msgid": mass.msgid, "from": "a", "sendtime": mass.timetag,
        "type": 0, "body": {"msg": "to some"}, "ext": "x", "markRead": true});
    let jbc = json!({"kind": "broadcast", "msgid": bc["broadcastId"], "from": "a",
        "sendtime": bc["createTime"], "type": 100, "body": "hello everyone"});
    let batch = |msgid: i64, to: &str| {
        json!({"kind": "p2p", "msgid": msgid, "from": "c", "to": to, "sendtime": batch_time,
            "type": 1, "body": {"url": "http://x/y.jpg", "w": 10, "h": 20}})
    };

    let q = |params: Vec<(&'static str, String)>| {
        let s = &s;
        async move {
            let p: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            s.call("history/queryUserMsgs", &p).await
        }
    };
    let v = |k: &'static str, v: &str| (k, v.to_owned());
    let to_b_all = vec![jp1.clone(), jmass.clone(), jbc.clone(), batch(to_b, "b")];
    assert_eq!(q(vec![v("accid", "b")]).await, page(to_b_all, to_b));
    assert_eq!(
        q(vec![v("accid", "B"), v("limit", "2")]).await,
        page(vec![jp1, jmass.clone()], mass.msgid)
    );
    let cursor = mass.msgid.to_string();
    assert_eq!(
        q(vec![v("accid", "b"), v("limit", "2"), v("cursor", &cursor)]).await,
        page(vec![jbc.clone(), batch(to_b, "b")], to_b)
    );
    assert_eq!(
        q(vec![
            v("accid", "b"),
            v("limit", "2"),
            v("cursor", &to_b.to_string())
        ])
        .await,
        page(vec![], to_b)
    );
    // The sender of mass and broadcast messages is not in their audience.
    assert_eq!(
        q(vec![v("accid", "a"), v("cursor", "0")]).await,
        page(vec![batch(to_a, "a")], to_a)
    );
    assert_eq!(
        q(vec![v("accid", "c")]).await,
        page(vec![jmass, jbc], bc["broadcastId"].as_i64().unwrap())
    );
}

#[tokio::test]
async fn recalled_messages_give_way_to_recall_entries() {
    let s = TestServer::start().await;
    create_users(&s, &["a", "b", "c"]).await;
    let p1 = text(&s, "a", "b", "oops").await;
    let mass = sent(
        &s,
        "msg/sendMsgToAll",
        &[
            ("from", "a"),
            ("toAccids", r#"["b","c"]"#),
            ("type", "0"),
            ("body", r#"{"msg":"to some"}"#),
        ],
    )
    .await;
    s.clock.advance_ms(1000);
    let recall_time = s.clock.now_ms();
    let r = s
        .call(
            "msg/recall",
            &[
                ("deleteMsgid", &p1.msgid.to_string()),
                ("timetag", &p1.timetag.to_string()),
                ("type", "7"),
                ("from", "a"),
                ("to", "b"),
                ("msg", "withdrawn"),
            ],
        )
        .await;
    assert_eq!(r, json!({"code": 200}));
    let r = s
        .call("msg/recallMassMsg", &[("msgid", &mass.msgid.to_string())])
        .await;
    assert_eq!(r, json!({"code": 200}));

    // The recall entries' msgids are new: read them back, then check the whole answer.
    let r = s.call("history/queryUserMsgs", &[("accid", "b")]).await;
    let (t1, t2) = (
        r["msgs"][0]["msgid"].as_i64().unwrap(),
        r["msgs"][1]["msgid"].as_i64().unwrap(),
    );
    assert!(mass.msgid < t1 && t1 < t2, "{r}");
    let mass_recall = json!({"kind": "recall", "msgid": t2, "from": "a", "sendtime": recall_time,
        "type": 8, "body": {"msg": ""}, "recallMsgid": mass.msgid});
    assert_eq!(
        r,
        page(
            vec![
                json!({"kind": "recall", "msgid": t1, "from": "a", "to": "b", "sendtime": recall_time,
                    "type": 7, "body": {"msg": "withdrawn"}, "recallMsgid": p1.msgid}),
                mass_recall.clone(),
            ],
            t2
        )
    );
    let r = s.call("history/queryUserMsgs", &[("accid", "c")]).await;
    assert_eq!(r, page(vec![mass_recall], t2));
    // The sender received nothing.
    let r = s.call("history/queryUserMsgs", &[("accid", "a")]).await;
    assert_eq!(r, page(vec![], 0));

    let r = s
        .call(
            "history/querySessionMsg",
            &[
                ("from", "a"),
                ("to", "b"),
                ("begintime", "0"),
                ("endtime", &recall_time.to_string()),
                ("limit", "100"),
            ],
        )
        .await;
    assert_eq!(r, list(vec![]));
    let r = s.call("history/queryMassMsgs", &[]).await;
    assert_eq!(
        r,
        page(
            vec![
                json!({"msgid": mass.msgid, "from": "a", "type": 0, "body": {"msg": "to some"},
                "timetag": mass.timetag, "recipients": 2,
                "selection": {"areaid": [], "enterptypeid": [], "accids": ["b", "c"]},
                "markRead": false, "antispam": false, "recalled": true})
            ],
            mass.msgid
        )
    );
}

#[tokio::test]
async fn a_blocked_account_still_gets_what_is_sent_to_it() {
    let s = TestServer::start().await;
    create_users(&s, &["a", "b", "c"]).await;
    assert_eq!(
        s.call("user/block", &[("accid", "b")]).await,
        json!({"code": 200})
    );
    let p1 = text(&s, "a", "b", "still yours").await;
    let r = s
        .call(
            "msg/sendMsgToAll",
            &[("from", "a"), ("type", "0"), ("body", r#"{"msg":"all"}"#)],
        )
        .await;
    assert_eq!(r["code"], 200, "{r}");
    assert_eq!(r["data"]["recipients"], 1, "{r}");
    let mass = r["data"]["msgid"].as_i64().unwrap();
    let mass_time = r["data"]["timetag"].as_i64().unwrap();
    let bc = broadcast(&s, &[("from", "a"), ("body", "news"), ("isOffline", "1")]).await;
    let bc_id = bc["broadcastId"].as_i64().unwrap();

    let r = s.call("history/queryUserMsgs", &[("accid", "b")]).await;
    assert_eq!(
        r,
        page(
            vec![
                json!({"kind": "p2p", "msgid": p1.msgid, "from": "a", "to": "b",
                "sendtime": p1.timetag, "type": 0, "body": {"msg": "still yours"}})
            ],
            p1.msgid
        )
    );
    let r = s.call("history/queryUserMsgs", &[("accid", "c")]).await;
    assert_eq!(
        r,
        page(
            vec![
                json!({"kind": "mass", "msgid": mass, "from": "a", "sendtime": mass_time,
                    "type": 0, "body": {"msg": "all"}}),
                json!({"kind": "broadcast", "msgid": bc_id, "from": "a",
                    "sendtime": bc["createTime"], "type": 100, "body": "news"}),
            ],
            bc_id
        )
    );
}

#[tokio::test]
async fn user_msgs_refuses_bad_parameters() {
    let s = TestServer::start().await;
    create_users(&s, &["a"]).await;
    let q = |p: &'static [(&'static str, &'static str)]| {
        let s = &s;
        async move { s.call("history/queryUserMsgs", p).await }
    };
    assert_eq!(q(&[("accid", "a")]).await, page(vec![], 0));
    assert_eq!(q(&[("accid", "a"), ("cursor", "5")]).await, page(vec![], 5));
    assert_eq!(q(&[]).await, refused("missing parameter: accid"));
    assert_eq!(
        q(&[("accid", "Nobody")]).await,
        refused("nobody not register")
    );
    assert_eq!(
        q(&[("accid", "a"), ("cursor", "-1")]).await,
        refused("cursor must be a non-negative integer: \"-1\"")
    );
    assert_eq!(
        q(&[("accid", "a"), ("cursor", "x")]).await,
        refused("cursor must be a non-negative integer: \"x\"")
    );
    assert_eq!(
        q(&[("accid", "a"), ("limit", "0")]).await,
        refused("limit must be 1 to 100: \"0\"")
    );
    assert_eq!(
        q(&[("accid", "a"), ("limit", "101")]).await,
        refused("limit must be 1 to 100: \"101\"")
    );
}

#[tokio::test]
async fn broadcasts_list_by_id_and_delete() {
    let s = TestServer::start().await;
    create_users(&s, &["a", "b"]).await;
    const WEEK_MS: i64 = 168 * 3_600_000;
    let all_os = json!(["ios", "aos", "pc", "web", "mac"]);

    let b1 = broadcast(
        &s,
        &[("from", "a"), ("body", "first"), ("isOffline", "true")],
    )
    .await;
    let (id1, t1) = (
        b1["broadcastId"].as_i64().unwrap(),
        b1["createTime"].as_i64().unwrap(),
    );
    let j1 = json!({"broadcastId": id1, "from": "a", "body": "first", "targetOs": all_os,
        "isOffline": true, "createTime": t1, "expireTime": t1 + WEEK_MS});
    assert_eq!(b1, j1);
    s.clock.advance_ms(10);
    let b2 = broadcast(&s, &[("body", "second")]).await;
    let (id2, t2) = (
        b2["broadcastId"].as_i64().unwrap(),
        b2["createTime"].as_i64().unwrap(),
    );
    let j2 = json!({"broadcastId": id2, "from": "qunfa.system", "body": "second",
        "targetOs": all_os, "isOffline": false, "createTime": t2, "expireTime": t2 + WEEK_MS});
    assert_eq!(b2, j2);
    s.clock.advance_ms(10);
    let b3 = broadcast(
        &s,
        &[
            ("from", "a"),
            ("body", r#"{"k":"v"}"#),
            ("isOffline", "true"),
            ("targetOs", r#"["ios","web"]"#),
            ("ttl", "1"),
        ],
    )
    .await;
    let (id3, t3) = (
        b3["broadcastId"].as_i64().unwrap(),
        b3["createTime"].as_i64().unwrap(),
    );
    let j3 = json!({"broadcastId": id3, "from": "a", "body": r#"{"k":"v"}"#,
        "targetOs": ["ios", "web"], "isOffline": true, "createTime": t3, "expireTime": t3 + 3_600_000});
    assert_eq!(b3, j3);
    assert!(id1 < id2 && id2 < id3);

    let q = |p: Vec<(&'static str, String)>| {
        let s = &s;
        async move {
            let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
            s.call("history/queryBroadcastMsg", &p).await
        }
    };
    let v = |k: &'static str, v: &str| (k, v.to_owned());
    let all = list(vec![j3.clone(), j2.clone(), j1.clone()]);
    assert_eq!(q(vec![]).await, all);
    assert_eq!(q(vec![v("broadcastId", "0"), v("type", "1")]).await, all);
    assert_eq!(
        q(vec![v("type", "2")]).await,
        list(vec![j3.clone(), j1.clone()])
    );
    assert_eq!(q(vec![v("type", "3")]).await, list(vec![j2.clone()]));
    assert_eq!(
        q(vec![v("broadcastId", &id2.to_string())]).await,
        list(vec![j2.clone(), j1.clone()])
    );
    assert_eq!(q(vec![v("limit", "1")]).await, list(vec![j3.clone()]));
    assert_eq!(
        q(vec![
            v("broadcastId", &id2.to_string()),
            v("limit", "1"),
            v("type", "2")
        ])
        .await,
        list(vec![j1.clone()])
    );

    let by_id = |id: String| {
        let s = &s;
        async move {
            s.call("history/queryBroadcastMsgById", &[("broadcastId", &id)])
                .await
        }
    };
    let del = |id: String| {
        let s = &s;
        async move {
            s.call("history/delBroadcastMsgById", &[("broadcastId", &id)])
                .await
        }
    };
    assert_eq!(
        by_id(id2.to_string()).await,
        json!({"code": 200, "msg": j2})
    );
    assert_eq!(
        by_id(id1.to_string()).await,
        json!({"code": 200, "msg": j1})
    );
    // b sees the two offline broadcasts until one is deleted.
    // A broadcast's body is plain text, even when it looks like a JSON object.
    let synced = |id: i64, body: Value, t: i64| json!({"kind": "broadcast", "msgid": id, "from": "a", "sendtime": t, "type": 100, "body": body});
    let r = s.call("history/queryUserMsgs", &[("accid", "b")]).await;
    assert_eq!(
        r,
        page(
            vec![
                synced(id1, json!("first"), t1),
                synced(id3, json!(r#"{"k":"v"}"#), t3)
            ],
            id3
        )
    );

    assert_eq!(del(id1.to_string()).await, json!({"code": 200}));
    assert_eq!(by_id(id1.to_string()).await, not_found(id1));
    assert_eq!(del(id1.to_string()).await, not_found(id1));
    assert_eq!(q(vec![]).await, list(vec![j3.clone(), j2.clone()]));
    let r = s.call("history/queryUserMsgs", &[("accid", "b")]).await;
    assert_eq!(r, page(vec![synced(id3, json!(r#"{"k":"v"}"#), t3)], id3));

    // Not a broadcast, or no such message.
    let p = text(&s, "a", "b", "hi").await;
    assert_eq!(by_id(p.msgid.to_string()).await, not_found(p.msgid));
    assert_eq!(del(p.msgid.to_string()).await, not_found(p.msgid));
    assert_eq!(by_id("999999".into()).await, not_found(999_999));

    // Bad parameters.
    assert_eq!(
        s.call("history/queryBroadcastMsgById", &[]).await,
        refused("missing parameter: broadcastId")
    );
    assert_eq!(
        by_id(String::new()).await,
        refused("missing parameter: broadcastId")
    );
    assert_eq!(
        by_id("x".into()).await,
        refused("broadcastId must be an integer: \"x\"")
    );
    assert_eq!(
        s.call("history/delBroadcastMsgById", &[]).await,
        refused("missing parameter: broadcastId")
    );
    assert_eq!(
        del("1.5".into()).await,
        refused("broadcastId must be an integer: \"1.5\"")
    );
    assert_eq!(
        q(vec![v("type", "4")]).await,
        refused("type must be 1, 2 or 3: \"4\"")
    );
    assert_eq!(
        q(vec![v("limit", "0")]).await,
        refused("limit must be 1 to 100: \"0\"")
    );
    assert_eq!(
        q(vec![v("limit", "101")]).await,
        refused("limit must be 1 to 100: \"101\"")
    );
    assert_eq!(
        q(vec![v("broadcastId", "-3")]).await,
        refused("broadcastId must be a non-negative integer: \"-3\"")
    );
    assert_eq!(
        q(vec![v("broadcastId", "x")]).await,
        refused("broadcastId must be a non-negative integer: \"x\"")
    );
}

#[tokio::test]
async fn mass_msgs_page_newest_first_with_their_selection() {
    let s = TestServer::start().await;
    let r = s
        .call("dic/createArea", &[("areaid", "37"), ("name", "Shandong")])
        .await;
    assert_eq!(r["code"], 200, "{r}");
    create_users(&s, &["a", "b", "c"]).await;
    let r = s
        .call("user/create", &[("accid", "d"), ("areaid", "37")])
        .await;
    assert_eq!(r["code"], 200, "{r}");

    let m1 = sent(
        &s,
        "msg/sendMsgToAll",
        &[
            ("from", "a"),
            ("toAccids", r#"["c","b"]"#),
            ("type", "0"),
            ("body", r#"{"msg":"one"}"#),
            ("ext", "e"),
            ("markRead", "1"),
        ],
    )
    .await;
    text(&s, "a", "b", "not a mass message").await;
    s.clock.advance_ms(10);
    let m2 = sent(
        &s,
        "msg/sendMsgToAll",
        &[
            ("areaid", "37"),
            ("type", "0"),
            ("body", r#"{"msg":"two"}"#),
        ],
    )
    .await;
    let r = s
        .call("antispam/setWords", &[("words", r#"["spam"]"#)])
        .await;
    assert_eq!(r, json!({"code": 200}));
    s.clock.advance_ms(10);
    let m3 = sent(
        &s,
        "msg/sendMsgToAll",
        &[
            ("from", "a"),
            ("type", "100"),
            ("body", r#"{"offer":"buy spam"}"#),
            ("msgidclient", "cli-3"),
        ],
    )
    .await;

    let j1 = json!({"msgid": m1.msgid, "from": "a", "type": 0, "body": {"msg": "one"}, "ext": "e",
        "timetag": m1.timetag, "recipients": 2,
        "selection": {"areaid": [], "enterptypeid": [], "accids": ["b", "c"]},
        "markRead": true, "antispam": false, "recalled": false});
    let j2 = json!({"msgid": m2.msgid, "from": "qunfa.system", "type": 0, "body": {"msg": "two"},
        "timetag": m2.timetag, "recipients": 1,
        "selection": {"areaid": ["37"], "enterptypeid": []},
        "markRead": false, "antispam": false, "recalled": false});
    let j3 = json!({"msgid": m3.msgid, "from": "a", "type": 100, "body": {"offer": "buy spam"},
        "timetag": m3.timetag, "recipients": 3,
        "selection": {"areaid": [], "enterptypeid": []},
        "markRead": false, "antispam": true, "recalled": false});

    let q = |p: Vec<(&'static str, String)>| {
        let s = &s;
        async move {
            let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
            s.call("history/queryMassMsgs", &p).await
        }
    };
    let v = |k: &'static str, v: &str| (k, v.to_owned());
    assert_eq!(
        q(vec![]).await,
        page(vec![j3.clone(), j2.clone(), j1.clone()], m1.msgid)
    );
    assert_eq!(
        q(vec![v("limit", "2"), v("cursor", "0")]).await,
        page(vec![j3, j2], m2.msgid)
    );
    assert_eq!(
        q(vec![v("limit", "2"), v("cursor", &m2.msgid.to_string())]).await,
        page(vec![j1], m1.msgid)
    );
    assert_eq!(
        q(vec![v("limit", "2"), v("cursor", &m1.msgid.to_string())]).await,
        page(vec![], 0)
    );
    // The intercepted one reached nobody.
    let r = s.call("history/queryUserMsgs", &[("accid", "d")]).await;
    assert_eq!(
        r,
        page(
            vec![
                json!({"kind": "mass", "msgid": m2.msgid, "from": "qunfa.system",
                "sendtime": m2.timetag, "type": 0, "body": {"msg": "two"}})
            ],
            m2.msgid
        )
    );

    assert_eq!(
        q(vec![v("cursor", "x")]).await,
        refused("cursor must be a non-negative integer: \"x\"")
    );
    assert_eq!(
        q(vec![v("cursor", "-5")]).await,
        refused("cursor must be a non-negative integer: \"-5\"")
    );
    assert_eq!(
        q(vec![v("limit", "101")]).await,
        refused("limit must be 1 to 100: \"101\"")
    );
}
