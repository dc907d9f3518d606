//! `msg/sendMsg`, `sendBatchMsg`, `broadcastMsg`, recalls and the keyword filter.

use serde_json::{Value, json};

use crate::harness::{TestServer, create_users};
use crate::targeted::inbox;

fn text(msg: &str) -> String {
    json!({ "msg": msg }).to_string()
}

async fn send_p2p(s: &TestServer, from: &str, to: &str, msg: &str) -> Value {
    let body = text(msg);
    s.call(
        "msg/sendMsg",
        &[
            ("from", from),
            ("ope", "0"),
            ("to", to),
            ("type", "0"),
            ("body", &body),
        ],
    )
    .await
}

fn msgid(r: &Value) -> i64 {
    assert_eq!(r["code"], 200, "{r}");
    r["data"]["msgid"].as_i64().unwrap()
}

#[tokio::test]
async fn send_msg_answers_msgid_timetag_and_antispam() {
    let s = TestServer::start().await;
    create_users(&s, &["a", "b"]).await;
    let r = send_p2p(&s, "A", "b", "hello").await;
    let id = msgid(&r);
    assert_eq!(
        r,
        json!({"code": 200, "data": {"msgid": id, "timetag": s.clock_ms(), "antispam": false}})
    );
    let id2 = msgid(&send_p2p(&s, "b", "a", "back").await);
    assert!(id2 > id);
    assert_eq!(inbox(&s, "b").await, [id]);
    assert_eq!(inbox(&s, "a").await, [id2]);
    // NIM's optional parameters, under either spelling, are kept.
    let body = text("push");
    let params = [
        ("from", "a"),
        ("ope", "0"),
        ("to", "b"),
        ("type", "0"),
        ("body", body.as_str()),
        ("pushContent", "new message"),
        ("option", r#"{"push":false,"roam":true}"#),
        ("payload", r#"{"k":1}"#),
        ("forcePushList", r#"["b"]"#),
        ("ext", "x"),
        ("msgDesc", "desc"),
    ];
    let id3 = msgid(&s.call("msg/sendMsg", &params).await);
    let stored = s
        .state()
        .services
        .store
        .message(s.app.id, qunfa_core::ids::MsgId(id3))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(stored.extra.as_deref().unwrap()).unwrap(),
        json!({"pushcontent": "new message", "option": {"push": false, "roam": true}, "payload": {"k": 1}, "forcepushlist": ["b"], "msgDesc": "desc"})
    );
    assert_eq!(stored.ext.as_deref(), Some("x"));
}

#[tokio::test]
async fn send_msg_refuses_bad_parameters() {
    let s = TestServer::start().await;
    create_users(&s, &["a", "b"]).await;
    let body = text("x");
    let base = |extra: &[(&'static str, &'static str)]| {
        let mut p: Vec<(&str, &str)> =
            vec![("from", "a"), ("ope", "0"), ("to", "b"), ("type", "0")];
        for (k, v) in extra {
            if let Some(slot) = p.iter_mut().find(|(pk, _)| pk == k) {
                slot.1 = v;
            } else {
                p.push((k, v));
            }
        }
        p
    };
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (base(&[("from", "ghost")]), "ghost not register"),
        (base(&[("to", "ghost")]), "ghost not register"),
        (base(&[("ope", "1")]), "to must be a team id"),
        (base(&[("ope", "2")]), "ope must be 0 or 1: \"2\""),
        (base(&[("ope", "")]), "missing parameter: ope"),
        (base(&[("option", "[1]")]), "option must be a JSON object"),
        (base(&[("payload", "{bad")]), "payload must be JSON"),
        (
            base(&[("pushcontent", Box::leak("p".repeat(501).into_boxed_str()))]),
            "pushcontent is longer than 500 characters",
        ),
        (
            base(&[("forcepushlist", "x")]),
            "forcepushlist must be a JSON array of accids",
        ),
        (base(&[("useYidun", "1")]), "useYidun must be 0: \"1\""),
        (
            base(&[("subType", "0")]),
            "subType must be a positive integer: \"0\"",
        ),
        (
            base(&[("antispam", "maybe")]),
            "antispam must be true or false: \"maybe\"",
        ),
    ];
    for (mut params, desc) in cases {
        params.push(("body", body.as_str()));
        assert_eq!(
            s.call("msg/sendMsg", &params).await,
            json!({"code": 414, "desc": desc}),
            "{params:?}"
        );
    }
    assert!(inbox(&s, "b").await.is_empty(), "nothing was sent");
}

#[tokio::test]
async fn send_batch_msg_reports_unregistered_and_msgids_at_top_level() {
    let s = TestServer::start().await;
    create_users(&s, &["a", "b", "c"]).await;
    let body = text("batch");
    let r = s
        .call(
            "msg/sendBatchMsg",
            &[
                ("fromAccid", "a"),
                ("toAccids", r#"["b","ghost","C","b"]"#),
                ("type", "0"),
                ("body", &body),
                ("returnMsgid", "true"),
            ],
        )
        .await;
    let ids = r["msgids"].as_object().unwrap();
    let (b, c) = (ids["b"].as_i64().unwrap(), ids["c"].as_i64().unwrap());
    assert_eq!(
        r,
        json!({"code": 200, "unregister": ["ghost"], "timetag": s.clock_ms(), "msgids": {"b": b, "c": c}})
    );
    assert_eq!(inbox(&s, "b").await, [b]);
    assert_eq!(inbox(&s, "c").await, [c]);
    let r = s
        .call(
            "msg/sendBatchMsg",
            &[
                ("fromAccid", "a"),
                ("toAccids", r#"["b"]"#),
                ("type", "0"),
                ("body", &body),
            ],
        )
        .await;
    assert_eq!(r, json!({"code": 200, "timetag": s.clock_ms()}));

    let many: Vec<String> = (0..501).map(|i| format!("u{i}")).collect();
    let many = serde_json::to_string(&many).unwrap();
    let hundred_one: Vec<String> = (0..101).map(|i| format!("u{i}")).collect();
    let hundred_one = serde_json::to_string(&hundred_one).unwrap();
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![("toAccids", &many)],
            "toAccids has more than 500 entries",
        ),
        (
            vec![("toAccids", &hundred_one), ("returnMsgid", "true")],
            "toAccids has more than 100 entries",
        ),
        (
            vec![("toAccids", "b")],
            "toAccids must be a JSON array of strings",
        ),
        (
            vec![("toAccids", r#"["b"]"#), ("fromAccid", "ghost")],
            "ghost not register",
        ),
        (
            vec![("toAccids", r#"["b"]"#), ("fromAccid", "")],
            "missing parameter: fromAccid",
        ),
    ];
    for (extra, desc) in cases {
        let mut params = vec![("fromAccid", "a"), ("type", "0"), ("body", body.as_str())];
        for (k, v) in extra {
            params.retain(|(pk, _)| *pk != k);
            params.push((k, v));
        }
        assert_eq!(
            s.call("msg/sendBatchMsg", &params).await,
            json!({"code": 414, "desc": desc}),
            "{params:?}"
        );
    }
}

#[tokio::test]
async fn broadcast_answers_under_msg_and_reaches_everyone() {
    let s = TestServer::start().await;
    create_users(&s, &["a", "b"]).await;
    let r = s
        .call(
            "msg/broadcastMsg",
            &[
                ("body", "系统维护通知"),
                ("from", "a"),
                ("isOffline", "true"),
                ("ttl", "2"),
                ("targetOs", r#"["ios","web"]"#),
            ],
        )
        .await;
    let id = r["msg"]["broadcastId"].as_i64().unwrap();
    let now = s.clock_ms();
    assert_eq!(
        r,
        json!({"code": 200, "msg": {"broadcastId": id, "from": "a", "body": "系统维护通知", "targetOs": ["ios", "web"], "isOffline": true, "createTime": now, "expireTime": now + 2 * 3_600_000}})
    );
    assert_eq!(inbox(&s, "b").await, [id]);
    assert!(inbox(&s, "a").await.is_empty(), "not to its sender");
    // Online-only broadcasts are not kept for later sync.
    let r = s
        .call("msg/broadcastMsg", &[("body", "now or never")])
        .await;
    assert_eq!(r["msg"]["isOffline"], false);
    assert_eq!(r["msg"]["from"], "qunfa.system");
    assert_eq!(
        r["msg"]["targetOs"],
        json!(["ios", "aos", "pc", "web", "mac"])
    );
    assert_eq!(r["msg"]["expireTime"], now + 168 * 3_600_000);
    assert_eq!(inbox(&s, "b").await, [id]);
    // Expired ones neither.
    s.clock.advance_ms(2 * 3_600_000);
    assert!(inbox(&s, "b").await.is_empty());

    let long = "x".repeat(4097);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![], "missing parameter: body"),
        (vec![("body", &long)], "body is longer than 4096 characters"),
        (
            vec![("body", "b"), ("ttl", "0")],
            "ttl must be 1 to 8760 hours: \"0\"",
        ),
        (
            vec![("body", "b"), ("isOffline", "yes")],
            "isOffline must be true or false: \"yes\"",
        ),
        (
            vec![("body", "b"), ("targetOs", r#"["android"]"#)],
            "targetOs must hold ios, aos, pc, web or mac: \"android\"",
        ),
        (vec![("body", "b"), ("from", "ghost")], "ghost not register"),
    ];
    for (params, desc) in cases {
        assert_eq!(
            s.call("msg/broadcastMsg", &params).await,
            json!({"code": 414, "desc": desc}),
            "{params:?}"
        );
    }
}

#[tokio::test]
async fn recall_withdraws_a_point_to_point_message_inside_the_window() {
    let s = TestServer::start().await;
    create_users(&s, &["a", "b"]).await;
    let r = send_p2p(&s, "a", "b", "oops").await;
    let id = msgid(&r);
    let idt = id.to_string();
    let tt = r["data"]["timetag"].to_string();
    let recall = |extra: Vec<(&'static str, &'static str)>| {
        let (idt, tt) = (idt.clone(), tt.clone());
        let s = &s;
        async move {
            let mut p: Vec<(&str, &str)> = vec![
                ("deleteMsgid", &idt),
                ("timetag", &tt),
                ("type", "7"),
                ("from", "a"),
                ("to", "b"),
            ];
            for (k, v) in extra {
                p.retain(|(pk, _)| *pk != k);
                p.push((k, v));
            }
            s.call("msg/recall", &p).await
        }
    };
    assert_eq!(
        recall(vec![("type", "8")]).await,
        json!({"code": 414, "desc": "to must be a team id"})
    );
    assert_eq!(
        recall(vec![("type", "9")]).await,
        json!({"code": 414, "desc": "type must be 7 or 8: \"9\""})
    );
    assert_eq!(
        recall(vec![("ignoreTime", "2")]).await,
        json!({"code": 414, "desc": "ignoreTime must be 1: \"2\""})
    );
    assert_eq!(
        recall(vec![("deleteMsgid", "x")]).await,
        json!({"code": 414, "desc": "deleteMsgid must be an integer: \"x\""})
    );
    // Unknown message, or wrong sender: 200 and nothing happens (NIM).
    assert_eq!(
        recall(vec![("deleteMsgid", "999999")]).await,
        json!({"code": 200})
    );
    assert_eq!(
        recall(vec![("from", "b"), ("to", "a")]).await,
        json!({"code": 200})
    );
    assert_eq!(inbox(&s, "b").await, [id]);

    s.clock.advance_ms(119_000);
    assert_eq!(
        recall(vec![("msg", "撤回了一条消息")]).await,
        json!({"code": 200})
    );
    let after = inbox(&s, "b").await;
    assert_eq!(
        after.len(),
        1,
        "the message is gone, a recall tombstone is there"
    );
    let tomb = s
        .state()
        .services
        .store
        .message(s.app.id, qunfa_core::ids::MsgId(after[0]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            tomb.ref_msgid.map(|r| r.0),
            tomb.msg_type,
            tomb.body.as_str()
        ),
        (Some(id), 7, r#"{"msg":"撤回了一条消息"}"#)
    );
    assert_eq!(
        recall(vec![]).await,
        json!({"code": 200}),
        "recalling twice is harmless"
    );

    // Past the 2-minute window: 508, unless ignoreTime=1.
    let late = msgid(&send_p2p(&s, "a", "b", "late").await);
    s.clock.advance_ms(120_001);
    let late_s = late.to_string();
    let p = [
        ("deleteMsgid", late_s.as_str()),
        ("timetag", "1"),
        ("type", "7"),
        ("from", "a"),
        ("to", "b"),
    ];
    assert_eq!(
        s.call("msg/recall", &p).await,
        json!({"code": 508, "desc": "deleteMsgid: past the recall window of 120 s"})
    );
    let mut p = p.to_vec();
    p.push(("ignoreTime", "1"));
    assert_eq!(s.call("msg/recall", &p).await, json!({"code": 200}));
}

#[tokio::test]
async fn recall_mass_msg_withdraws_a_targeted_send_from_everyone() {
    let s = TestServer::start().await;
    create_users(&s, &["a", "b"]).await;
    let body = text("sale");
    let id = msgid(
        &s.call("msg/sendMsgToAll", &[("type", "0"), ("body", &body)])
            .await,
    );
    let p2p = msgid(&send_p2p(&s, "a", "b", "hi").await);
    assert_eq!(
        s.call("msg/recallMassMsg", &[("msgid", "424242")]).await,
        json!({"code": 404, "desc": "msgid 424242 not found"})
    );
    let p2p_s = p2p.to_string();
    assert_eq!(
        s.call("msg/recallMassMsg", &[("msgid", &p2p_s)]).await,
        json!({"code": 404, "desc": format!("msgid {p2p} not found")})
    );
    assert_eq!(
        s.call("msg/recallMassMsg", &[]).await,
        json!({"code": 414, "desc": "missing parameter: msgid"})
    );
    let id_s = id.to_string();
    assert_eq!(
        s.call("msg/recallMassMsg", &[("msgid", &id_s)]).await,
        json!({"code": 200})
    );
    for accid in ["a", "b"] {
        let got = inbox(&s, accid).await;
        let kinds: Vec<_> = futures_kinds(&s, &got).await;
        assert!(!got.contains(&id), "{accid}: {got:?}");
        assert!(
            kinds.contains(&(qunfa_core::message::MsgKind::Recall, Some(id))),
            "{accid}: {kinds:?}"
        );
    }
    let late = msgid(
        &s.call("msg/sendMsgToAll", &[("type", "0"), ("body", &body)])
            .await,
    );
    s.clock.advance_ms(121_000);
    let late_s = late.to_string();
    assert_eq!(
        s.call("msg/recallMassMsg", &[("msgid", &late_s)]).await,
        json!({"code": 508, "desc": "msgid: past the recall window of 120 s"})
    );
    assert_eq!(
        s.call(
            "msg/recallMassMsg",
            &[("msgid", &late_s), ("ignoreTime", "1")]
        )
        .await,
        json!({"code": 200})
    );
}

async fn futures_kinds(
    s: &TestServer,
    ids: &[i64],
) -> Vec<(qunfa_core::message::MsgKind, Option<i64>)> {
    let mut out = Vec::new();
    for id in ids {
        let m = s
            .state()
            .services
            .store
            .message(s.app.id, qunfa_core::ids::MsgId(*id))
            .await
            .unwrap()
            .unwrap();
        out.push((m.kind, m.ref_msgid.map(|r| r.0)));
    }
    out
}

#[tokio::test]
async fn the_keyword_filter_intercepts_and_never_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let words = dir.path().join("words.txt");
    std::fs::write(&words, "# global list\n代开发票\n").unwrap();
    let s = TestServer::with(|c| c.antispam.words_file = words.clone()).await;
    create_users(&s, &["a", "b"]).await;
    assert_eq!(
        s.call("antispam/getWords", &[]).await,
        json!({"code": 200, "data": {"words": []}})
    );
    assert_eq!(
        s.call(
            "antispam/setWords",
            &[("words", r#"["赌博", "SPAM", "赌博"]"#)]
        )
        .await,
        json!({"code": 200})
    );
    assert_eq!(
        s.call("antispam/getWords", &[]).await,
        json!({"code": 200, "data": {"words": ["SPAM", "赌博"]}})
    );
    assert_eq!(
        s.call("antispam/setWords", &[("words", "nope")]).await,
        json!({"code": 414, "desc": "words must be a JSON array of strings"})
    );
    assert_eq!(
        s.call("antispam/setWords", &[("words", r#"[""]"#)]).await,
        json!({"code": 414, "desc": "words must not hold empty strings"})
    );

    let hit = |r: &Value| r["data"]["antispam"].as_bool().unwrap();
    let clean = send_p2p(&s, "a", "b", "hello").await;
    assert!(!hit(&clean));
    let in_text = send_p2p(&s, "a", "b", "来赌博吧").await;
    assert!(hit(&in_text));
    let case_insensitive = send_p2p(&s, "a", "b", "buy spam now").await;
    assert!(hit(&case_insensitive));
    let global = send_p2p(&s, "a", "b", "代开发票 找我").await;
    assert!(hit(&global));
    let card = json!({"title": "赌博 card", "lng": 1.0, "lat": 2.0}).to_string();
    let r = s
        .call("msg/sendMsgToAll", &[("type", "4"), ("body", &card)])
        .await;
    assert_eq!(r["data"]["antispam"], true);
    let r = s
        .call(
            "msg/sendMsgToAll",
            &[("type", "0"), ("body", &text("ok")), ("ext", "SPAM in ext")],
        )
        .await;
    assert_eq!(r["data"]["antispam"], true);
    // Stored, flagged, never delivered.
    assert_eq!(inbox(&s, "b").await, [msgid(&clean)]);
    let stored = s
        .state()
        .services
        .store
        .message(s.app.id, qunfa_core::ids::MsgId(msgid(&in_text)))
        .await
        .unwrap()
        .unwrap();
    assert!(stored.antispam);
    // And an intercepted message cannot be recalled.
    let id = msgid(&in_text).to_string();
    let p = [
        ("deleteMsgid", id.as_str()),
        ("timetag", "1"),
        ("type", "7"),
        ("from", "a"),
        ("to", "b"),
    ];
    assert_eq!(
        s.call("msg/recall", &p).await,
        json!({"code": 414, "desc": "deleteMsgid: an intercepted message cannot be recalled"})
    );
}
