//! Team messages over real HTTP: `sendMsg ope=1` with every refusal, team notifications of
//! every operation, `queryTeamMsg` inside membership periods, `queryUserMsgs`, recall type 8,
//! `sendAttachMsg`, read receipts (`markReadTeamMsg`, `getMarkReadInfo`), `sendMsgToAll`
//! with `tids`.

use serde_json::{Value, json};

use crate::harness::{TestServer, create_users};
use crate::team::{arr, on, team};

fn err(code: u16, desc: &str) -> Value {
    json!({"code": code, "desc": desc})
}

fn text(msg: &str) -> String {
    json!({ "msg": msg }).to_string()
}

pub async fn say(s: &TestServer, from: &str, tid: i64, msg: &str, extra: &[(&str, &str)]) -> Value {
    let t = tid.to_string();
    let body = text(msg);
    let mut p = vec![
        ("from", from),
        ("ope", "1"),
        ("to", t.as_str()),
        ("type", "0"),
        ("body", body.as_str()),
    ];
    for (k, v) in extra {
        p.retain(|(pk, _)| pk != k);
        p.push((k, v));
    }
    s.call("msg/sendMsg", &p).await
}

pub fn msgid(r: &Value) -> i64 {
    r["data"]["msgid"]
        .as_i64()
        .unwrap_or_else(|| panic!("no msgid: {r}"))
}

/// What `accid` sees of the team in `queryTeamMsg`, oldest first: (msgid, type).
async fn history(s: &TestServer, tid: i64, accid: &str, extra: &[(&str, &str)]) -> Value {
    let end = (s.clock_ms() + 1000).to_string();
    let mut p = vec![
        ("accid", accid),
        ("begintime", "0"),
        ("endtime", end.as_str()),
        ("limit", "100"),
        ("reverse", "1"),
    ];
    p.extend_from_slice(extra);
    on(s, "history/queryTeamMsg", tid, &p).await
}

fn ids(r: &Value) -> Vec<i64> {
    r["msgs"]
        .as_array()
        .unwrap_or_else(|| panic!("{r}"))
        .iter()
        .map(|m| m["msgid"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn send_msg_ope_1_stores_once_and_refuses_with_team_codes() {
    let s = TestServer::start().await;
    create_users(&s, &["a", "m", "b", "x"]).await;
    let t = team(&s, "a", &["m", "b"], &[]).await;
    on(
        &s,
        "team/addManager",
        t,
        &[("owner", "a"), ("members", "[\"m\"]")],
    )
    .await;
    let r = say(&s, "b", t, "hello", &[("msgidclient", "c-1")]).await;
    let m = msgid(&r);
    assert_eq!(
        r,
        json!({"code": 200, "data": {"msgid": m, "timetag": s.clock_ms(), "antispam": false}})
    );
    // The same sender's msgidclient again answers the first send.
    assert_eq!(say(&s, "b", t, "again", &[("msgidclient", "c-1")]).await, r);
    let h = history(&s, t, "a", &[("type", "0")]).await;
    assert_eq!(
        h,
        json!({"code": 200, "size": 1, "msgs": [{"from": "b", "msgid": m, "type": 0,
            "body": {"msg": "hello"}, "sendtime": s.clock_ms(), "msgidclient": "c-1",
            "fromclienttype": 32}]})
    );

    let ts = t.to_string();
    let many: Vec<String> = (0..101).map(|i| format!("u{i}")).collect();
    let many = serde_json::to_string(&many).unwrap();
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Value);
    let cases: Vec<Case> = vec![
        ("x", vec![], err(804, &format!("x is not in team {t}"))),
        ("ghost", vec![], err(414, "ghost not register")),
        ("b", vec![("to", "999")], err(803, "team 999 not found")),
        ("b", vec![("to", "b")], err(414, "to must be a team id")),
        ("b", vec![("to", "")], err(414, "missing parameter: to")),
        (
            "b",
            vec![("forcePushList", many.as_str())],
            err(811, "forcepushlist has more than 100 accids"),
        ),
        (
            "b",
            vec![("type", "7")],
            err(414, "type must be one of 0, 1, 2, 3, 4, 6, 10, 100: \"7\""),
        ),
        (
            "b",
            vec![("markRead", "2")],
            err(414, "markRead must be 0 or 1: \"2\""),
        ),
    ];
    for (from, extra, want) in cases {
        assert_eq!(
            say(&s, from, t, "no", &extra).await,
            want,
            "{from} {extra:?}"
        );
    }
    // Bans: one member; ordinary members (muteType 1); everyone (muteType 3).
    on(
        &s,
        "team/muteTlist",
        t,
        &[("owner", "a"), ("accid", "b"), ("mute", "1")],
    )
    .await;
    assert_eq!(
        say(&s, "b", t, "no", &[]).await,
        err(812, &format!("b is banned in team {t}"))
    );
    on(
        &s,
        "team/muteTlist",
        t,
        &[("owner", "a"), ("accid", "b"), ("mute", "0")],
    )
    .await;
    on(
        &s,
        "team/muteTlistAll",
        t,
        &[("owner", "a"), ("muteType", "1")],
    )
    .await;
    assert_eq!(
        say(&s, "b", t, "no", &[]).await,
        err(
            812,
            &format!("team {t} is muted for ordinary members (muteType 1)")
        )
    );
    assert_eq!(say(&s, "m", t, "managers may", &[]).await["code"], 200);
    on(
        &s,
        "team/muteTlistAll",
        t,
        &[("owner", "a"), ("muteType", "3")],
    )
    .await;
    assert_eq!(
        say(&s, "a", t, "no", &[]).await,
        err(812, &format!("team {t} is muted (muteType 3)"))
    );
    on(
        &s,
        "team/muteTlistAll",
        t,
        &[("owner", "a"), ("muteType", "0")],
    )
    .await;
    assert_eq!(say(&s, "b", t, "yes", &[("to", &ts)]).await["code"], 200);
    on(&s, "team/remove", t, &[("owner", "a")]).await;
    assert_eq!(
        say(&s, "b", t, "gone", &[]).await,
        err(803, &format!("team {t} not found"))
    );
}

#[tokio::test]
async fn every_operation_writes_its_notification() {
    let s = TestServer::start().await;
    create_users(&s, &["a", "b", "c", "d", "e"]).await;
    let t = team(&s, "a", &["b"], &[("joinmode", "1")]).await;
    let ok = |r: Value| assert_eq!(r["code"], 200, "{r}");
    ok(on(
        &s,
        "team/add",
        t,
        &[
            ("owner", "a"),
            ("members", "[\"c\",\"d\"]"),
            ("magree", "0"),
            ("msg", "m"),
            ("attach", "why"),
        ],
    )
    .await);
    ok(on(&s, "team/kick", t, &[("owner", "a"), ("member", "d")]).await);
    ok(on(&s, "team/leave", t, &[("accid", "c")]).await);
    ok(on(
        &s,
        "team/update",
        t,
        &[("owner", "a"), ("tname", "new"), ("joinmode", "1")],
    )
    .await);
    ok(on(
        &s,
        "team/muteTlistAll",
        t,
        &[("owner", "a"), ("mute", "true")],
    )
    .await);
    ok(on(&s, "team/apply", t, &[("accid", "c")]).await);
    ok(on(&s, "team/passApply", t, &[("owner", "a"), ("accid", "c")]).await);
    ok(on(
        &s,
        "team/addManager",
        t,
        &[("owner", "a"), ("members", "[\"b\"]")],
    )
    .await);
    ok(on(
        &s,
        "team/removeManager",
        t,
        &[("owner", "a"), ("members", "[\"b\"]")],
    )
    .await);
    ok(on(
        &s,
        "team/muteTlist",
        t,
        &[("owner", "a"), ("accid", "c"), ("mute", "1")],
    )
    .await);
    ok(on(
        &s,
        "team/add",
        t,
        &[
            ("owner", "a"),
            ("members", "[\"e\"]"),
            ("magree", "1"),
            ("msg", "m"),
        ],
    )
    .await);
    ok(on(&s, "team/acceptInvite", t, &[("accid", "e")]).await);
    ok(on(
        &s,
        "team/updateTeamNick",
        t,
        &[("owner", "a"), ("accid", "b"), ("nick", "bee")],
    )
    .await);
    ok(on(&s, "team/muteTeam", t, &[("accid", "b"), ("ope", "1")]).await);
    ok(on(
        &s,
        "team/changeOwner",
        t,
        &[("owner", "a"), ("newowner", "b"), ("leave", "2")],
    )
    .await);
    let h = history(&s, t, "b", &[("type", "5")]).await;
    let got: Vec<(Value, Value)> = h["msgs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert!(m.get("body").is_none(), "a notification has no body: {m}");
            (m["from"].clone(), m["attach"].clone())
        })
        .collect();
    let info = got[0].1["data"]["team_info"].clone();
    assert_eq!(
        (info["tid"].clone(), info["size"].clone()),
        (json!(t), json!(2))
    );
    let want = vec![
        (
            json!("a"),
            json!({"id": 0, "data": {"ids": ["b"], "team_info": info}}),
        ),
        (
            json!("a"),
            json!({"id": 0, "data": {"ids": ["c", "d"], "attach": "why"}}),
        ),
        (json!("a"), json!({"id": 1, "data": {"ids": ["d"]}})),
        (json!("c"), json!({"id": 2, "data": {"id": "c"}})),
        (
            json!("a"),
            json!({"id": 3, "data": {"team_info": {"tname": "new", "joinmode": 1}}}),
        ),
        (
            json!("a"),
            json!({"id": 3, "data": {"team_info": {"muteType": 1, "mute": true}}}),
        ),
        (json!("a"), json!({"id": 5, "data": {"id": "c"}})),
        (json!("a"), json!({"id": 7, "data": {"ids": ["b"]}})),
        (json!("a"), json!({"id": 8, "data": {"ids": ["b"]}})),
        (
            json!("a"),
            json!({"id": 10, "data": {"id": "c", "mute": 1}}),
        ),
        (json!("e"), json!({"id": 9, "data": {"id": "e"}})),
        (
            json!("a"),
            json!({"id": 6, "data": {"id": "b", "leave": false}}),
        ),
    ];
    assert_eq!(got, want);
    // apply at joinmode 0 is from the applicant; dismissing is id 4.
    ok(on(&s, "team/update", t, &[("owner", "b"), ("joinmode", "0")]).await);
    ok(on(&s, "team/apply", t, &[("accid", "d")]).await);
    ok(on(&s, "team/remove", t, &[("owner", "b"), ("attach", "bye")]).await);
    let h = history(&s, t, "b", &[("type", "5"), ("checkTeamValid", "false")]).await;
    let last: Vec<Value> = h["msgs"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .take(2)
        .map(|m| json!([m["from"], m["attach"]]))
        .collect();
    assert_eq!(
        last,
        vec![
            json!(["b", {"id": 4, "data": {"attach": "bye"}}]),
            json!(["d", {"id": 5, "data": {"id": "d"}}])
        ]
    );
}

#[tokio::test]
async fn members_see_the_team_only_while_they_are_in_it() {
    let s = TestServer::start().await;
    create_users(&s, &["a", "b", "c", "x"]).await;
    let t = team(&s, "a", &["b"], &[]).await;
    let m1 = msgid(&say(&s, "a", t, "before c", &[]).await);
    on(
        &s,
        "team/add",
        t,
        &[
            ("owner", "a"),
            ("members", "[\"c\"]"),
            ("magree", "0"),
            ("msg", "m"),
        ],
    )
    .await;
    let m2 = msgid(&say(&s, "a", t, "with c", &[]).await);
    on(&s, "team/kick", t, &[("owner", "a"), ("member", "c")]).await;
    let m3 = msgid(&say(&s, "b", t, "without c", &[]).await);
    on(&s, "team/apply", t, &[("accid", "c")]).await;
    let m4 = msgid(&say(&s, "c", t, "c is back", &[]).await);

    let all = ids(&history(&s, t, "a", &[]).await);
    let (n_create, n_add, n_kick, n_apply) = (all[0], all[2], all[4], all[6]);
    assert_eq!(all, vec![n_create, m1, n_add, m2, n_kick, m3, n_apply, m4]);
    // c: its own joining and leaving, nothing between its periods.
    assert_eq!(
        ids(&history(&s, t, "c", &[]).await),
        vec![n_add, m2, n_kick, n_apply, m4]
    );
    // The same through its inbox (the catch-up question), the sender's own sends included.
    let r = s.call("history/queryUserMsgs", &[("accid", "c")]).await;
    assert_eq!(ids(&r), vec![n_add, m2, n_kick, n_apply, m4]);
    let first = &r["msgs"][1];
    assert_eq!(
        first,
        &json!({"msgid": m2, "from": "a", "type": 0, "body": {"msg": "with c"}, "tid": t,
            "kind": "team", "sendtime": first["sendtime"]})
    );
    assert_eq!(r["msgs"][0]["attach"]["id"], 0);
    assert!(r["msgs"][0].get("body").is_none());

    // checkTeamValid: a former member only with false; never a member: 804.
    on(&s, "team/leave", t, &[("accid", "c")]).await;
    assert_eq!(
        history(&s, t, "c", &[]).await,
        err(804, &format!("c is not in team {t}"))
    );
    assert_eq!(
        ids(&history(&s, t, "c", &[("checkTeamValid", "false")]).await).len(),
        6
    );
    assert_eq!(
        history(&s, t, "x", &[("checkTeamValid", "false")]).await,
        err(804, &format!("x was never in team {t}"))
    );
    assert_eq!(
        history(&s, 999, "a", &[]).await,
        err(803, "team 999 not found")
    );
    // Paging and filters, as querySessionMsg.
    let r = history(
        &s,
        t,
        "a",
        &[("limit", "2"), ("reverse", "2"), ("type", "0")],
    )
    .await;
    assert_eq!(ids(&r), vec![m4, m3]);
    let ex = m4.to_string();
    let r = history(
        &s,
        t,
        "a",
        &[
            ("limit", "1"),
            ("reverse", "2"),
            ("type", "0"),
            ("excludeMsgid", &ex),
        ],
    )
    .await;
    assert_eq!(ids(&r), vec![m3]);
    let end = s.clock_ms().to_string();
    for (p, want) in [
        (
            vec![
                ("accid", "a"),
                ("begintime", end.as_str()),
                ("endtime", end.as_str()),
                ("limit", "1"),
            ],
            err(414, "bad time"),
        ),
        (
            vec![
                ("accid", "a"),
                ("begintime", "0"),
                ("endtime", end.as_str()),
                ("limit", "101"),
            ],
            err(414, "limit must be 1 to 100: \"101\""),
        ),
        (
            vec![
                ("accid", "a"),
                ("begintime", "0"),
                ("endtime", end.as_str()),
            ],
            err(414, "missing parameter: limit"),
        ),
        (
            vec![
                ("begintime", "0"),
                ("endtime", end.as_str()),
                ("limit", "1"),
            ],
            err(414, "missing parameter: accid"),
        ),
        (
            vec![
                ("accid", "a"),
                ("begintime", "0"),
                ("endtime", end.as_str()),
                ("limit", "1"),
                ("type", "9"),
            ],
            err(414, "type must be one of 0, 1, 2, 3, 4, 6, 10, 100: \"9\""),
        ),
    ] {
        assert_eq!(on(&s, "history/queryTeamMsg", t, &p).await, want, "{p:?}");
    }
}

#[tokio::test]
async fn recall_type_8_by_a_member_inside_the_window() {
    let s = TestServer::start().await;
    create_users(&s, &["a", "b", "c"]).await;
    let t = team(&s, "a", &["b", "c"], &[]).await;
    let ts = t.to_string();
    let recall = |from: &'static str, msgid: i64, extra: Vec<(&'static str, &'static str)>| {
        let s = &s;
        let ts = ts.clone();
        async move {
            let id = msgid.to_string();
            let mut p = vec![
                ("deleteMsgid", id.as_str()),
                ("timetag", "1"),
                ("type", "8"),
                ("from", from),
                ("to", ts.as_str()),
            ];
            p.extend(extra);
            s.call("msg/recall", &p).await
        }
    };
    let m = msgid(&say(&s, "b", t, "oops", &[]).await);
    assert_eq!(
        recall("c", m, vec![]).await,
        json!({"code": 200}),
        "not c's: nothing happens"
    );
    assert_eq!(recall("b", 99999, vec![]).await, json!({"code": 200}));
    assert!(ids(&history(&s, t, "a", &[("type", "0")]).await).contains(&m));
    assert_eq!(
        recall("b", m, vec![("msg", "withdrawn")]).await,
        json!({"code": 200})
    );
    assert!(ids(&history(&s, t, "a", &[("type", "0")]).await).is_empty());
    let inbox = s.call("history/queryUserMsgs", &[("accid", "c")]).await;
    let last = inbox["msgs"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (&last["kind"], &last["recallMsgid"], &last["tid"]),
        (&json!("recall"), &json!(m), &json!(t))
    );
    // Past the window: 508 (unless ignoreTime); a former member: 403.
    let m2 = msgid(&say(&s, "b", t, "old", &[]).await);
    s.clock.advance_ms(121_000);
    assert_eq!(
        recall("b", m2, vec![]).await,
        err(508, "deleteMsgid: past the recall window of 120 s")
    );
    on(&s, "team/leave", t, &[("accid", "b")]).await;
    assert_eq!(
        recall("b", m2, vec![("ignoreTime", "1")]).await,
        err(403, "not allow!")
    );
    let m3 = msgid(&say(&s, "c", t, "mine", &[]).await);
    assert_eq!(
        recall("c", m3, vec![("ignoreTime", "1")]).await,
        json!({"code": 200})
    );
}

#[tokio::test]
async fn custom_team_notifications_are_not_history() {
    let s = TestServer::start().await;
    create_users(&s, &["a", "b", "x"]).await;
    let t = team(&s, "a", &["b"], &[]).await;
    let ts = t.to_string();
    let notify = |from: &'static str,
                  msgtype: &'static str,
                  to: String,
                  extra: Vec<(&'static str, &'static str)>| {
        let s = &s;
        async move {
            let mut p = vec![
                ("from", from),
                ("msgtype", msgtype),
                ("to", to.as_str()),
                ("attach", "{\"k\":1}"),
            ];
            for (k, v) in extra {
                p.retain(|(pk, _)| *pk != k);
                p.push((k, v));
            }
            s.call("msg/sendAttachMsg", &p).await
        }
    };
    assert_eq!(
        notify(
            "a",
            "1",
            ts.clone(),
            vec![("save", "2"), ("pushcontent", "p")]
        )
        .await,
        json!({"code": 200})
    );
    assert_eq!(
        notify("a", "1", ts.clone(), vec![("save", "1")]).await,
        json!({"code": 200})
    );
    assert_eq!(
        notify("a", "0", "b".into(), vec![]).await,
        json!({"code": 200})
    );
    let inbox = s.call("history/queryUserMsgs", &[("accid", "b")]).await;
    let kinds: Vec<(Value, Value, Value)> = inbox["msgs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["kind"].clone(),
                m["attach"].clone(),
                m.get("tid").cloned().unwrap_or(Value::Null),
            )
        })
        .collect();
    // The team's creation, the kept team notification, the point-to-point one; not `save=1`.
    assert_eq!(kinds.len(), 3, "{inbox}");
    assert_eq!(kinds[1], (json!("notify"), json!("{\"k\":1}"), json!(t)));
    assert_eq!(kinds[2], (json!("notify"), json!("{\"k\":1}"), Value::Null));
    assert_eq!(
        ids(&history(&s, t, "b", &[]).await).len(),
        1,
        "only the creation"
    );
    for (from, msgtype, to, extra, want) in [
        (
            "x",
            "1",
            ts.clone(),
            vec![],
            err(804, &format!("x is not in team {t}")),
        ),
        (
            "a",
            "1",
            "999".to_string(),
            vec![],
            err(803, "team 999 not found"),
        ),
        (
            "a",
            "2",
            ts.clone(),
            vec![],
            err(414, "msgtype must be 0 or 1: \"2\""),
        ),
        (
            "a",
            "0",
            "ghost".to_string(),
            vec![],
            err(414, "ghost not register"),
        ),
        (
            "a",
            "1",
            ts.clone(),
            vec![("save", "3")],
            err(414, "save must be 1 or 2: \"3\""),
        ),
        (
            "a",
            "1",
            ts.clone(),
            vec![("attach", "")],
            err(414, "missing parameter: attach"),
        ),
        (
            "a",
            "1",
            ts.clone(),
            vec![("sound", &*"s".repeat(31).leak())],
            err(414, "sound is longer than 30 characters"),
        ),
    ] {
        assert_eq!(notify(from, msgtype, to, extra).await, want);
    }
}

#[tokio::test]
async fn team_read_receipts_count_exactly_without_writes_at_send() {
    let s = TestServer::start().await;
    create_users(&s, &["a", "b", "c", "d", "x"]).await;
    let t = team(&s, "a", &["b", "c", "d"], &[]).await;
    let m = msgid(&say(&s, "a", t, "read me", &[("markRead", "1")]).await);
    let plain = msgid(&say(&s, "a", t, "no receipts", &[]).await);
    let ms = m.to_string();
    let info = |snapshot: &'static str| {
        let s = &s;
        let ms = ms.clone();
        async move {
            on(
                s,
                "team/getMarkReadInfo",
                t,
                &[("msgid", &ms), ("fromAccid", "a"), ("snapshot", snapshot)],
            )
            .await
        }
    };
    assert_eq!(
        info("false").await,
        json!({"code": 200, "data": {"readSize": 0, "unreadSize": 3}})
    );
    let read = |accid: &'static str, ids: String| {
        let s = &s;
        async move {
            on(
                s,
                "msg/markReadTeamMsg",
                t,
                &[("accid", accid), ("msgids", &ids)],
            )
            .await
        }
    };
    assert_eq!(
        read("b", format!("[{m}, {plain}, 99999]")).await,
        json!({"code": 200, "data": {"errMsgIds": [plain, 99999]}})
    );
    assert_eq!(
        read("a", format!("[{m}]")).await,
        json!({"code": 200, "data": {"errMsgIds": [m]}}),
        "its own"
    );
    assert_eq!(
        read("c", format!("[\"{m}\"]")).await,
        json!({"code": 200, "data": {"errMsgIds": []}})
    );
    // A member who joins later is not in the audience; one who leaves stays in it.
    on(
        &s,
        "team/add",
        t,
        &[
            ("owner", "a"),
            ("members", "[\"x\"]"),
            ("magree", "0"),
            ("msg", "m"),
        ],
    )
    .await;
    assert_eq!(
        read("x", format!("[{m}]")).await["data"]["errMsgIds"],
        json!([m])
    );
    on(&s, "team/leave", t, &[("accid", "d")]).await;
    assert_eq!(
        info("true").await,
        json!({"code": 200, "data": {"readSize": 2, "unreadSize": 1, "readAccids": ["b", "c"], "unreadAccids": ["d"]}})
    );
    assert_eq!(
        read("d", format!("[{m}]")).await,
        err(804, &format!("d is not in team {t}"))
    );
    assert_eq!(
        read("b", "[1".into()).await,
        err(414, "msgids must be a JSON array of msgids")
    );
    let ps = plain.to_string();
    for (p, want) in [
        (
            vec![("msgid", ps.as_str()), ("fromAccid", "a")],
            err(414, &format!("msgid {plain} was not sent with markRead=1")),
        ),
        (
            vec![("msgid", ms.as_str()), ("fromAccid", "b")],
            err(404, &format!("msgid {m} not found")),
        ),
        (
            vec![("msgid", "99999"), ("fromAccid", "a")],
            err(404, "msgid 99999 not found"),
        ),
        (
            vec![("msgid", ms.as_str()), ("fromAccid", "ghost")],
            err(414, "ghost not register"),
        ),
        (
            vec![("fromAccid", "a")],
            err(414, "missing parameter: msgid"),
        ),
    ] {
        assert_eq!(on(&s, "team/getMarkReadInfo", t, &p).await, want, "{p:?}");
    }
    assert_eq!(
        on(
            &s,
            "team/getMarkReadInfo",
            999,
            &[("msgid", &ms), ("fromAccid", "a")]
        )
        .await,
        err(803, "team 999 not found")
    );
}

#[tokio::test]
async fn team_read_receipts_can_be_switched_off() {
    let s = TestServer::with(|c| c.teams.read_receipts = false).await;
    create_users(&s, &["a", "b"]).await;
    let t = team(&s, "a", &["b"], &[]).await;
    let off = err(814, "team read receipts are disabled");
    assert_eq!(say(&s, "a", t, "x", &[("markRead", "1")]).await, off);
    let m = msgid(&say(&s, "a", t, "x", &[]).await).to_string();
    assert_eq!(
        on(
            &s,
            "msg/markReadTeamMsg",
            t,
            &[("accid", "b"), ("msgids", "[1]")]
        )
        .await,
        off
    );
    assert_eq!(
        on(
            &s,
            "team/getMarkReadInfo",
            t,
            &[("msgid", &m), ("fromAccid", "a")]
        )
        .await,
        off
    );
}

#[tokio::test]
async fn send_msg_to_all_posts_into_teams_in_one_write() {
    let s = TestServer::start().await;
    create_users(&s, &["a", "b", "c", "u"]).await;
    let t1 = team(&s, "a", &["b"], &[]).await;
    let t2 = team(&s, "a", &["c"], &[]).await;
    let t3 = team(&s, "b", &["c"], &[]).await;
    let body = text("to teams");
    let tids = format!("[{t1}, \"{t2}\"]");
    let call = |extra: Vec<(&'static str, String)>| {
        let s = &s;
        let body = body.clone();
        async move {
            let mut p: Vec<(&str, String)> =
                vec![("from", "a".into()), ("type", "0".into()), ("body", body)];
            p.extend(extra);
            let q: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
            s.call("msg/sendMsgToAll", &q).await
        }
    };
    // Teams only.
    let r = call(vec![("tids", tids.clone())]).await;
    let d = &r["data"];
    let (x1, x2) = (
        d["teams"][0]["msgid"].as_i64().unwrap(),
        d["teams"][1]["msgid"].as_i64().unwrap(),
    );
    assert_eq!(
        r,
        json!({"code": 200, "data": {"teams": [{"tid": t1, "msgid": x1}, {"tid": t2, "msgid": x2}],
            "timetag": s.clock_ms(), "antispam": false, "recipients": 0}})
    );
    assert_eq!(ids(&history(&s, t2, "c", &[("type", "0")]).await), vec![x2]);
    let inbox_u = s.call("history/queryUserMsgs", &[("accid", "u")]).await;
    assert_eq!(inbox_u["size"], 0, "no user selection: nobody else");
    // Teams and users together.
    let r = call(vec![
        ("tids", format!("[{t1}]")),
        ("toAccids", "[\"u\"]".into()),
        ("msgidclient", "k".into()),
    ])
    .await;
    let d = r["data"].clone();
    assert_eq!(
        r,
        json!({"code": 200, "data": {"msgid": d["msgid"], "timetag": s.clock_ms(), "antispam": false,
            "recipients": 1, "teams": [{"tid": t1, "msgid": d["teams"][0]["msgid"]}]}})
    );
    assert_eq!(
        call(vec![
            ("tids", format!("[{t1}]")),
            ("toAccids", "[\"u\"]".into()),
            ("msgidclient", "k".into())
        ])
        .await,
        r,
        "idempotent"
    );
    // One refusal refuses all; nothing is stored.
    let before = s.call("history/queryUserMsgs", &[("accid", "b")]).await["size"].clone();
    let r = call(vec![
        ("tids", format!("[{t1}, {t3}]")),
        ("toAccids", "[\"u\"]".into()),
    ])
    .await;
    assert_eq!(r, err(804, &format!("a is not in team {t3}")));
    assert_eq!(
        s.call("history/queryUserMsgs", &[("accid", "b")]).await["size"],
        before
    );
    assert_eq!(
        call(vec![("tids", "[999]".into())]).await,
        err(803, "team 999 not found")
    );
    let many: Vec<i64> = (1..=101).collect();
    assert_eq!(
        call(vec![("tids", serde_json::to_string(&many).unwrap())]).await,
        err(414, "tids has more than 100 team ids")
    );
    // Without `from`, the system account sends, which is in no team.
    let r = s
        .call(
            "msg/sendMsgToAll",
            &[
                ("type", "0"),
                ("body", &text("x")),
                ("tids", &format!("[{t1}]")),
            ],
        )
        .await;
    assert_eq!(r, err(804, &format!("qunfa.system is not in team {t1}")));
    let _ = arr(&[]);
}
