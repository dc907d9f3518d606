//! Teams over the gateway: team messages and notifications live to every member session and
//! on catch-up, client sends (`send` → `sent`) with every refusal, multi-device sync,
//! `recallMsg`, read receipts, invitations and applications as frames.

use serde_json::{Value, json};

use crate::harness::TestServer;
use crate::team::{on, team};
use crate::team_msg::{msgid, say};
use crate::ws::Client;

async fn users(s: &TestServer, accids: &[&str]) {
    for a in accids {
        let token = format!("tok-{a}");
        let r = s
            .call("user/create", &[("accid", a), ("token", &token)])
            .await;
        assert_eq!(r["code"], 200, "{r}");
    }
}

/// Logs `accid` in; answers the client and what came before `synced` (and after it, up to
/// `extra` frames: pending invitations).
async fn online(s: &TestServer, accid: &str, cursor: i64) -> (Client, Vec<Value>) {
    let mut c = Client::connect(s).await;
    let r = c
        .login(&s.app.appkey, accid, &format!("tok-{accid}"), cursor)
        .await;
    assert_eq!(r["code"], 200, "{r}");
    let (frames, _) = c.until_synced().await;
    (c, frames)
}

async fn next(c: &mut Client) -> Value {
    c.next().await.expect("a frame")
}

/// The next `n` frames, in any order (a reply and live deliveries race).
async fn some(c: &mut Client, n: usize) -> Vec<Value> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(next(c).await);
    }
    out
}

/// The next `sent` answer, past the copies of its own sends a session gets.
async fn sent_answer(c: &mut Client) -> Value {
    loop {
        let f = next(c).await;
        if f["op"] == "sent" {
            return f;
        }
    }
}

fn op<'a>(frames: &'a [Value], name: &str) -> Vec<&'a Value> {
    frames.iter().filter(|f| f["op"] == name).collect()
}

fn team_msg(tid: i64, id: i64, from: &str, text: &str, time: i64) -> Value {
    json!({"op": "msg", "msg": {"kind": "team", "tid": tid, "msgid": id, "from": from,
        "sendtime": time, "type": 0, "body": {"msg": text}}})
}

#[tokio::test]
async fn team_messages_reach_every_member_session_live_and_on_catch_up() {
    let s = TestServer::start().await;
    users(&s, &["a", "b", "c", "x"]).await;
    let t = team(&s, "a", &["b", "c"], &[]).await;
    let (mut a, _) = online(&s, "a", 0).await;
    let (mut b1, caught) = online(&s, "b", 0).await;
    let (mut b2, _) = online(&s, "b", 0).await;
    let (mut x, _) = online(&s, "x", 0).await;
    assert_eq!(caught.len(), 1, "the creation notification: {caught:?}");
    assert_eq!(caught[0]["msg"]["type"], 5);
    assert_eq!(caught[0]["msg"]["attach"]["id"], 0);

    let m = msgid(&say(&s, "a", t, "hi team", &[]).await);
    let want = team_msg(t, m, "a", "hi team", s.clock_ms());
    assert_eq!(next(&mut b1).await, want);
    assert_eq!(next(&mut b2).await, want);
    assert_eq!(next(&mut a).await, want, "the sender's own sessions too");
    // A notification goes out the same way.
    on(&s, "team/update", t, &[("owner", "a"), ("tname", "new")]).await;
    let n = next(&mut b1).await;
    assert_eq!(
        n["msg"]["attach"],
        json!({"id": 3, "data": {"team_info": {"tname": "new"}}})
    );
    assert!(n["msg"].get("body").is_none());
    // c was offline: it catches up on all of it, in msgid order.
    let (mut c, frames) = online(&s, "c", 0).await;
    let got: Vec<(i64, i64)> = frames
        .iter()
        .map(|f| {
            (
                f["msg"]["msgid"].as_i64().unwrap(),
                f["msg"]["type"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got.len(), 3);
    assert_eq!((got[1], got[2].1), ((m, 0), 5));
    // Kicked: c gets its own kick, then nothing of the team.
    on(&s, "team/kick", t, &[("owner", "a"), ("member", "c")]).await;
    assert_eq!(next(&mut c).await["msg"]["attach"]["id"], 1);
    let after = msgid(&say(&s, "b", t, "c is gone", &[]).await);
    let seen: Vec<i64> = some(&mut b2, 3)
        .await
        .iter()
        .map(|f| f["msg"]["msgid"].as_i64().unwrap())
        .collect();
    assert_eq!(seen[2], after, "after the update and the kick: {seen:?}");
    // x (never a member) and c see nothing more: a point-to-point message arrives first.
    let body = json!({"msg": "p2p"}).to_string();
    for to in ["x", "c"] {
        s.call(
            "msg/sendMsg",
            &[
                ("from", "a"),
                ("ope", "0"),
                ("to", to),
                ("type", "0"),
                ("body", &body),
            ],
        )
        .await;
    }
    assert_eq!(next(&mut x).await["msg"]["kind"], "p2p");
    assert_eq!(next(&mut c).await["msg"]["kind"], "p2p");
}

#[tokio::test]
async fn clients_send_as_their_account_with_the_http_refusals() {
    let s = TestServer::with(|c| {
        c.gateway.send_burst = 12;
        c.gateway.send_rate_per_sec = 1;
    })
    .await;
    users(&s, &["a", "b", "x"]).await;
    s.call("antispam/setWords", &[("words", "[\"spam\"]")])
        .await;
    let t = team(&s, "a", &["b"], &[]).await;
    let ts = t.to_string();
    let (mut a, _) = online(&s, "a", 0).await;
    let (mut b, _) = online(&s, "b", 0).await;
    let (mut b2, _) = online(&s, "b", 0).await;

    let frame = json!({"op": "send", "ope": 1, "to": ts, "type": 0, "body": {"msg": "from b"},
        "msgidClient": "c-1", "markRead": 1});
    b.send(frame.clone()).await;
    let frames = some(&mut b, 2).await;
    let sent = op(&frames, "sent")[0].clone();
    let m = sent["msgid"].as_i64().unwrap();
    assert_eq!(
        sent,
        json!({"op": "sent", "msgidClient": "c-1", "code": 200, "msgid": m, "timetag": s.clock_ms(),
            "antispam": false})
    );
    let mut want = team_msg(t, m, "b", "from b", s.clock_ms());
    want["msg"]["markRead"] = json!(true);
    want["msg"]["msgidclient"] = json!("c-1");
    assert_eq!(
        op(&frames, "msg"),
        vec![&want],
        "its own session gets it too"
    );
    assert_eq!(next(&mut b2).await, want, "and its other devices");
    assert_eq!(next(&mut a).await, want);
    // The same msgidClient again: the first send answers; nothing new goes out.
    b.send(frame).await;
    assert_eq!(next(&mut b).await, sent);

    // Point-to-point: to the recipient and the sender's other sessions.
    b.send(json!({"op": "send", "ope": 0, "to": "a", "type": 0, "body": "{\"msg\":\"dm\"}", "msgidClient": "c-2"}))
        .await;
    let frames = some(&mut b, 2).await;
    let p = op(&frames, "sent")[0]["msgid"].as_i64().unwrap();
    let dm = next(&mut a).await;
    assert_eq!(
        dm,
        json!({"op": "msg", "msg": {"kind": "p2p", "msgid": p, "from": "b", "to": "a", "type": 0,
            "body": {"msg": "dm"}, "sendtime": s.clock_ms(), "msgidclient": "c-2"}})
    );
    assert_eq!(next(&mut b2).await, dm);

    // Every refusal answers `sent` with sendMsg's code and desc.
    on(
        &s,
        "team/muteTlist",
        t,
        &[("owner", "a"), ("accid", "b"), ("mute", "1")],
    )
    .await;
    for cl in [&mut a, &mut b, &mut b2] {
        assert_eq!(
            next(cl).await["msg"]["attach"]["id"],
            10,
            "the ban's notification"
        );
    }
    let long = "x".repeat(129);
    let cases = [
        (
            json!({"to": ts, "type": 0, "body": {"msg": "x"}}),
            414,
            "missing parameter: ope".to_owned(),
        ),
        (
            json!({"ope": 2, "to": ts, "type": 0, "body": {"msg": "x"}}),
            414,
            "ope must be 0 or 1: \"2\"".into(),
        ),
        (
            json!({"ope": 1, "to": "abc", "type": 0, "body": {"msg": "x"}}),
            414,
            "to must be a team id".into(),
        ),
        (
            json!({"ope": 1, "to": 999, "type": 0, "body": {"msg": "x"}}),
            803,
            "team 999 not found".into(),
        ),
        (
            json!({"ope": 1, "to": ts, "type": 0, "body": {"msg": "x"}}),
            812,
            format!("b is banned in team {t}"),
        ),
        (
            json!({"ope": 1, "to": ts, "type": 0, "body": {"msg": 1}}),
            414,
            "body.msg must be a string for type 0".into(),
        ),
        (
            json!({"ope": 1, "to": ts, "type": 5, "body": {}}),
            414,
            "type must be one of 0, 1, 2, 3, 4, 6, 10, 100: \"5\"".into(),
        ),
        (
            json!({"ope": 0, "to": "ghost", "type": 0, "body": {"msg": "x"}}),
            414,
            "ghost not register".into(),
        ),
        (
            json!({"ope": 0, "to": "a", "type": 0, "body": {"msg": "x"}, "msgidClient": long}),
            414,
            "msgidclient is longer than 128 characters".into(),
        ),
        (
            json!({"ope": 0, "to": "a", "type": 0, "body": {"msg": "x"}, "markRead": 3}),
            414,
            "markRead must be 0 or 1: \"3\"".into(),
        ),
    ];
    for (mut f, code, desc) in cases {
        f["op"] = json!("send");
        f["msgidClient"] = f.get("msgidClient").cloned().unwrap_or(json!("r"));
        b.send(f.clone()).await;
        let r = next(&mut b).await;
        assert_eq!(
            (r["op"].clone(), r["code"].clone(), r["desc"].clone()),
            (json!("sent"), json!(code), json!(desc)),
            "{f}"
        );
        assert!(r.get("msgid").is_none());
    }
    // Not a member; the keyword filter (stored, flagged, never delivered).
    let (mut xs, _) = online(&s, "x", 0).await;
    xs.send(json!({"op": "send", "ope": 1, "to": ts, "type": 0, "body": {"msg": "x"}, "msgidClient": "k"})).await;
    assert_eq!(
        next(&mut xs).await,
        json!({"op": "sent", "msgidClient": "k", "code": 804, "desc": format!("x is not in team {t}")})
    );
    xs.send(json!({"op": "send", "ope": 0, "to": "a", "type": 0, "body": {"msg": "buy spam"}}))
        .await;
    let r = next(&mut xs).await;
    assert_eq!(
        (
            r["code"].clone(),
            r["antispam"].clone(),
            r["msgidClient"].clone()
        ),
        (json!(200), json!(true), Value::Null)
    );
    // Past gateway.send_burst sends without time passing: 416.
    let mut refused = None;
    for i in 0..12 {
        xs.send(
            json!({"op": "send", "ope": 0, "to": "a", "type": 0, "body": {"msg": format!("n{i}")}}),
        )
        .await;
        let r = sent_answer(&mut xs).await;
        if r["code"] != 200 {
            refused = Some(r);
            break;
        }
    }
    assert_eq!(
        refused.expect("a refusal"),
        json!({"op": "sent", "msgidClient": null, "code": 416,
            "desc": "too many sends: at most 1 a second (gateway.send_rate_per_sec)"})
    );
    s.clock.advance_ms(1000);
    xs.send(json!({"op": "send", "ope": 0, "to": "a", "type": 0, "body": {"msg": "later"}}))
        .await;
    assert_eq!(sent_answer(&mut xs).await["code"], 200);
    // a got x's messages in order, the intercepted one left out.
    let got: Vec<Value> = some(&mut a, 11)
        .await
        .iter()
        .map(|f| f["msg"]["body"]["msg"].clone())
        .collect();
    let mut want: Vec<Value> = (0..10).map(|i| json!(format!("n{i}"))).collect();
    want.push(json!("later"));
    assert_eq!(got, want);
}

#[tokio::test]
async fn clients_recall_their_own_messages_and_read_team_messages() {
    let s = TestServer::start().await;
    users(&s, &["a", "b", "c"]).await;
    let t = team(&s, "a", &["b", "c"], &[]).await;
    let (mut a, _) = online(&s, "a", 0).await;
    let (mut b, _) = online(&s, "b", 0).await;
    let (mut c, _) = online(&s, "c", 0).await;
    let m = msgid(&say(&s, "a", t, "read me", &[("markRead", "1")]).await);
    for cl in [&mut a, &mut b, &mut c] {
        assert_eq!(next(cl).await["msg"]["msgid"], m);
    }
    b.send(json!({"op": "read", "msgids": [m]})).await;
    assert_eq!(
        next(&mut a).await,
        json!({"op": "receipt", "msgid": m, "reader": "b", "time": s.clock_ms(), "tid": t})
    );
    a.send(json!({"op": "read", "msgids": [m]})).await;
    c.send(json!({"op": "read", "msgids": [m]})).await;
    assert_eq!(
        next(&mut a).await["reader"],
        "c",
        "its own read is not a receipt"
    );
    let ms = m.to_string();
    let r = on(
        &s,
        "team/getMarkReadInfo",
        t,
        &[("msgid", &ms), ("fromAccid", "a")],
    )
    .await;
    assert_eq!(r["data"], json!({"readSize": 2, "unreadSize": 0}));

    // recallMsg: own messages only, inside the window, while a member.
    c.send(json!({"op": "recallMsg", "msgid": m})).await;
    assert_eq!(
        next(&mut c).await,
        json!({"op": "recallMsgResult", "msgid": m, "code": 404, "desc": format!("msgid {m} not found")})
    );
    a.send(json!({"op": "recallMsg", "msgid": m})).await;
    let frames = some(&mut a, 2).await;
    assert_eq!(
        op(&frames, "recallMsgResult"),
        vec![&json!({"op": "recallMsgResult", "msgid": m, "code": 200})]
    );
    let tomb = op(&frames, "recall")[0].clone();
    assert_eq!(
        tomb,
        json!({"op": "recall", "msgid": tomb["msgid"], "recallMsgid": m, "from": "a", "time": s.clock_ms(), "tid": t})
    );
    assert_eq!(next(&mut b).await, tomb);
    assert_eq!(next(&mut c).await, tomb);
    let m2 = msgid(&say(&s, "c", t, "late", &[]).await);
    for cl in [&mut a, &mut b, &mut c] {
        assert_eq!(next(cl).await["msg"]["msgid"], m2);
    }
    s.clock.advance_ms(121_000);
    c.send(json!({"op": "recallMsg", "msgid": m2})).await;
    assert_eq!(
        next(&mut c).await,
        json!({"op": "recallMsgResult", "msgid": m2, "code": 508, "desc": "deleteMsgid: past the recall window of 120 s"})
    );
    c.send(json!({"op": "recallMsg"})).await;
    assert_eq!(
        next(&mut c).await,
        json!({"op": "recallMsgResult", "msgid": null, "code": 414, "desc": "msgid must be a msgid"})
    );
}

#[tokio::test]
async fn invitations_and_applications_as_frames() {
    let s = TestServer::start().await;
    users(&s, &["a", "b", "c", "d"]).await;
    let t = team(&s, "a", &["b"], &[("tname", "club"), ("joinmode", "1")]).await;
    let (mut a, _) = online(&s, "a", 0).await;
    let (mut c, _) = online(&s, "c", 0).await;
    on(
        &s,
        "team/add",
        t,
        &[
            ("owner", "a"),
            ("members", "[\"c\",\"d\"]"),
            ("magree", "1"),
            ("msg", "come"),
            ("attach", "x"),
        ],
    )
    .await;
    let invite = json!({"op": "teamInvite", "tid": t, "tname": "club", "inviter": "a", "msg": "come",
        "attach": "x", "time": s.clock_ms()});
    assert_eq!(next(&mut c).await, invite);
    // Again after every login until answered.
    let (mut c2, _) = online(&s, "c", 0).await;
    assert_eq!(next(&mut c2).await, invite);
    c.send(json!({"op": "acceptInvite", "tid": t, "req": "r1"}))
        .await;
    let frames = some(&mut c, 2).await;
    assert_eq!(
        op(&frames, "result"),
        vec![&json!({"op": "result", "req": "r1", "code": 200})]
    );
    assert_eq!(
        op(&frames, "msg")[0]["msg"]["attach"],
        json!({"id": 9, "data": {"id": "c"}})
    );
    assert_eq!(next(&mut a).await["msg"]["attach"]["id"], 9);
    c.send(json!({"op": "acceptInvite", "tid": t, "req": 2}))
        .await;
    assert_eq!(
        next(&mut c).await,
        json!({"op": "result", "req": 2, "code": 807, "desc": "no pending invitation for c"})
    );
    // d turns the invitation down: the inviter hears of it.
    let (mut d, _) = online(&s, "d", 0).await;
    assert_eq!(next(&mut d).await["op"], "teamInvite");
    d.send(json!({"op": "rejectInvite", "tid": t, "msg": "no thanks", "req": "r"}))
        .await;
    assert_eq!(
        next(&mut d).await,
        json!({"op": "result", "req": "r", "code": 200})
    );
    assert_eq!(
        next(&mut a).await,
        json!({"op": "teamInviteRejected", "tid": t, "accid": "d", "msg": "no thanks", "time": s.clock_ms()})
    );
    // d applies (joinmode 1): the owner hears; passes over the gateway.
    d.send(json!({"op": "apply", "tid": t, "msg": "please", "req": "p"}))
        .await;
    assert_eq!(
        next(&mut d).await,
        json!({"op": "result", "req": "p", "code": 200, "data": {"pending": true}})
    );
    assert_eq!(
        next(&mut a).await,
        json!({"op": "teamApply", "tid": t, "accid": "d", "msg": "please", "time": s.clock_ms()})
    );
    c.send(json!({"op": "passApply", "tid": t, "accid": "d", "req": "q"}))
        .await;
    let r = next(&mut c).await;
    assert_eq!(
        (r["code"].clone(), r["req"].clone()),
        (json!(802), json!("q"))
    );
    a.send(json!({"op": "passApply", "tid": t, "accid": "d", "req": "q"}))
        .await;
    let frames = some(&mut a, 2).await;
    assert_eq!(
        op(&frames, "result"),
        vec![&json!({"op": "result", "req": "q", "code": 200})]
    );
    assert_eq!(
        op(&frames, "msg")[0]["msg"]["attach"],
        json!({"id": 5, "data": {"id": "d"}})
    );
    assert_eq!(next(&mut d).await["msg"]["attach"]["id"], 5);
    // A rejected application reaches the applicant.
    s.call("user/create", &[("accid", "e"), ("token", "tok-e")])
        .await;
    let (mut e, _) = online(&s, "e", 0).await;
    e.send(json!({"op": "apply", "tid": t, "req": 1})).await;
    assert_eq!(next(&mut e).await["data"]["pending"], true);
    assert_eq!(next(&mut a).await["op"], "teamApply");
    a.send(json!({"op": "rejectApply", "tid": t, "accid": "e", "msg": "full", "req": 1}))
        .await;
    assert_eq!(next(&mut a).await["code"], 200);
    assert_eq!(
        next(&mut e).await,
        json!({"op": "teamApplyRejected", "tid": t, "by": "a", "msg": "full", "time": s.clock_ms()})
    );
    e.send(json!({"op": "apply", "tid": "nope", "req": 1}))
        .await;
    assert_eq!(
        next(&mut e).await,
        json!({"op": "result", "req": 1, "code": 414, "desc": "tid must be a team id"})
    );
}

#[tokio::test]
async fn custom_notifications_arrive_as_notify_frames() {
    let s = TestServer::start().await;
    users(&s, &["a", "b"]).await;
    let t = team(&s, "a", &["b"], &[]).await;
    let ts = t.to_string();
    let (mut b, _) = online(&s, "b", 0).await;
    let r = s
        .call(
            "msg/sendAttachMsg",
            &[
                ("from", "a"),
                ("msgtype", "1"),
                ("to", &ts),
                ("attach", "typing"),
                ("save", "1"),
            ],
        )
        .await;
    assert_eq!(r, json!({"code": 200}));
    let f = next(&mut b).await;
    assert_eq!(
        f,
        json!({"op": "notify", "msgid": f["msgid"], "tid": t, "from": "a", "attach": "typing", "time": s.clock_ms()})
    );
    s.call(
        "msg/sendAttachMsg",
        &[
            ("from", "a"),
            ("msgtype", "0"),
            ("to", "b"),
            ("attach", "ping"),
        ],
    )
    .await;
    let f = next(&mut b).await;
    assert_eq!(
        (f["to"].clone(), f["attach"].clone()),
        (json!("b"), json!("ping"))
    );
    // Only the kept one (save=2) is caught up on.
    let (_b2, frames) = online(&s, "b", 0).await;
    assert_eq!(op(&frames, "notify").len(), 1);
    assert_eq!(op(&frames, "notify")[0]["attach"], "ping");
}
