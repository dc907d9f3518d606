//! `team/*` over real HTTP: every endpoint's answer and every code it gives, asserted whole;
//! who may do what (owner, manager, member, `invitemode`, `uptinfomode`, `upcustommode`).

use serde_json::{Value, json};

use crate::harness::{TestServer, create_users};

pub fn arr(items: &[&str]) -> String {
    serde_json::to_string(items).unwrap()
}

/// Creates a team owned by `owner` with `members` (joined at once), overriding parameters
/// with `extra`; answers its tid.
pub async fn team(s: &TestServer, owner: &str, members: &[&str], extra: &[(&str, &str)]) -> i64 {
    let r = create(s, owner, members, extra).await;
    assert_eq!(r["code"], 200, "{r}");
    r["tid"].as_i64().unwrap()
}

pub async fn create(
    s: &TestServer,
    owner: &str,
    members: &[&str],
    extra: &[(&str, &str)],
) -> Value {
    let m = arr(members);
    let mut p: Vec<(&str, &str)> = vec![
        ("tname", "team"),
        ("owner", owner),
        ("members", &m),
        ("msg", "join us"),
        ("magree", "0"),
        ("joinmode", "0"),
    ];
    for (k, v) in extra {
        p.retain(|(pk, _)| pk != k);
        p.push((k, v));
    }
    s.call("team/create", &p).await
}

/// Calls `endpoint` with `tid` added.
pub async fn on(s: &TestServer, endpoint: &str, tid: i64, params: &[(&str, &str)]) -> Value {
    let t = tid.to_string();
    let mut p = vec![("tid", t.as_str())];
    p.extend_from_slice(params);
    s.call(endpoint, &p).await
}

pub fn ok() -> Value {
    json!({"code": 200})
}

fn err(code: u16, desc: &str) -> Value {
    json!({"code": code, "desc": desc})
}

/// The team as `team/query ope=1` answers it.
pub async fn info(s: &TestServer, tid: i64) -> Value {
    let tids = format!("[{tid}]");
    let r = s.call("team/query", &[("tids", &tids), ("ope", "1")]).await;
    assert_eq!(r["code"], 200, "{r}");
    r["tinfos"][0].clone()
}

fn roles(t: &Value) -> (Value, Value, Value) {
    (
        t["owner"].clone(),
        t["admins"].clone(),
        t["members"].clone(),
    )
}

#[tokio::test]
async fn create_answers_the_tid_at_the_top_and_faccid_for_those_left_out() {
    let s = TestServer::start().await;
    create_users(&s, &["a", "b", "c"]).await;
    let r = create(&s, "a", &["b", "c", "a", "b"], &[]).await;
    let tid = r["tid"].as_i64().unwrap();
    assert_eq!(r, json!({"code": 200, "tid": tid}));
    let now = s.clock_ms();
    assert_eq!(
        info(&s, tid).await,
        json!({"tname": "team", "icon": "", "owner": "a", "maxusers": 200, "tid": tid, "size": 3,
            "announcement": "", "intro": "", "joinmode": 0, "beinvitemode": 0, "uptinfomode": 0,
            "upcustommode": 0, "invitemode": 0, "muteType": 0, "mute": false,
            "isNotifyCloseOnline": false, "isNotifyClosePersistent": false, "custom": "",
            "clientCustom": "", "createtime": now, "updatetime": now, "admins": [],
            "members": ["b", "c"]})
    );
    // Unregistered invitees are left out; the tid is a new one.
    let r = create(
        &s,
        "a",
        &["ghost", "b"],
        &[
            ("announcement", "hello"),
            ("intro", "about"),
            ("icon", "http://x/i.png"),
            ("custom", "{\"k\":1}"),
            ("joinmode", "1"),
            ("beinvitemode", "1"),
            ("invitemode", "1"),
            ("uptinfomode", "1"),
            ("upcustommode", "1"),
            ("teamMemberLimit", "50"),
            ("isNotifyCloseOnline", "1"),
        ],
    )
    .await;
    let t2 = r["tid"].as_i64().unwrap();
    assert!(t2 > tid);
    assert_eq!(
        r,
        json!({"code": 200, "tid": t2,
            "faccid": {"accid": ["ghost"], "msg": "not register or over their team limit"}})
    );
    let t = info(&s, t2).await;
    assert_eq!(
        (
            &t["announcement"],
            &t["intro"],
            &t["icon"],
            &t["custom"],
            &t["maxusers"],
            &t["size"]
        ),
        (
            &json!("hello"),
            &json!("about"),
            &json!("http://x/i.png"),
            &json!("{\"k\":1}"),
            &json!(50),
            &json!(2)
        )
    );
    assert_eq!(
        [
            &t["joinmode"],
            &t["beinvitemode"],
            &t["invitemode"],
            &t["uptinfomode"],
            &t["upcustommode"]
        ],
        [&json!(1); 5]
    );
    assert_eq!(t["isNotifyCloseOnline"], true);
}

#[tokio::test]
async fn create_refuses_bad_parameters_and_limits() {
    let s = TestServer::with(|c| c.teams.max_owned = 2).await;
    create_users(&s, &["a", "b", "c"]).await;
    let many: Vec<String> = (0..200).map(|i| format!("u{i}")).collect();
    let many = serde_json::to_string(&many).unwrap();
    let long = "x".repeat(65);
    let cases: Vec<(Vec<(&str, &str)>, Value)> = vec![
        (vec![("tname", "")], err(414, "missing parameter: tname")),
        (
            vec![("tname", &long)],
            err(414, "tname is longer than 64 characters"),
        ),
        (vec![("owner", "ghost")], err(414, "ghost not register")),
        (vec![("owner", "")], err(414, "missing parameter: owner")),
        (
            vec![("members", "b")],
            err(414, "members must be a JSON array of accids"),
        ),
        (
            vec![("members", &many)],
            err(414, "members has more than 199 accids"),
        ),
        (vec![("msg", "")], err(414, "missing parameter: msg")),
        (
            vec![("magree", "2")],
            err(414, "magree must be 0 or 1: \"2\""),
        ),
        (
            vec![("joinmode", "")],
            err(414, "missing parameter: joinmode"),
        ),
        (
            vec![("joinmode", "3")],
            err(414, "joinmode must be 0, 1 or 2: \"3\""),
        ),
        (
            vec![("teamMemberLimit", "1")],
            err(414, "teamMemberLimit must be 2 to 2000: 1"),
        ),
        (
            vec![("teamMemberLimit", "2001")],
            err(414, "teamMemberLimit must be 2 to 2000: 2001"),
        ),
        (
            vec![("invitemode", "2")],
            err(414, "invitemode must be 0 or 1: \"2\""),
        ),
        (
            vec![("attach", Box::leak("a".repeat(513).into_boxed_str()))],
            err(414, "attach is longer than 512 characters"),
        ),
        (
            vec![("teamMemberLimit", "2")],
            err(
                801,
                "2 members and the owner are more than teamMemberLimit 2",
            ),
        ),
    ];
    for (extra, want) in cases {
        assert_eq!(
            create(&s, "a", &["b", "c"], &extra).await,
            want,
            "{extra:?}"
        );
    }
    // The owner listed among 199 others is not counted.
    let mut list: Vec<String> = (0..199).map(|i| format!("u{i}")).collect();
    list.push("a".into());
    let list = serde_json::to_string(&list).unwrap();
    let r = s
        .call(
            "team/create",
            &[
                ("tname", "t"),
                ("owner", "a"),
                ("members", &list),
                ("msg", "m"),
                ("magree", "1"),
                ("joinmode", "0"),
            ],
        )
        .await;
    assert_eq!(r["code"], 200, "{r}");
    assert_eq!(r["faccid"]["accid"].as_array().unwrap().len(), 199);
    // teams.max_owned = 2: the third is 806; a dismissed one no longer counts.
    let t = team(&s, "a", &[], &[]).await;
    assert_eq!(
        create(&s, "a", &[], &[]).await,
        err(806, "a owns 2 teams already (teams.max_owned)")
    );
    assert_eq!(on(&s, "team/remove", t, &[("owner", "a")]).await, ok());
    team(&s, "a", &[], &[]).await;
}

#[tokio::test]
async fn query_and_query_detail_answer_tinfos_and_tinfo() {
    let s = TestServer::start().await;
    create_users(&s, &["a", "b", "c", "m"]).await;
    let t1 = team(&s, "a", &["b", "m"], &[]).await;
    let t2 = team(&s, "b", &["c"], &[("tname", "two")]).await;
    assert_eq!(
        on(
            &s,
            "team/addManager",
            t1,
            &[("owner", "a"), ("members", "[\"m\"]")]
        )
        .await,
        ok()
    );
    s.clock.advance_ms(5);
    let now = s.clock_ms();
    let tids = format!("[\"{t1}\", {t2}]");
    let r = s.call("team/query", &[("tids", &tids), ("ope", "0")]).await;
    assert_eq!(r["tinfos"].as_array().unwrap().len(), 2);
    assert!(r["tinfos"][0].get("members").is_none() && r["tinfos"][0].get("admins").is_none());
    assert_eq!(
        (
            r["tinfos"][0]["tid"].clone(),
            r["tinfos"][1]["tname"].clone()
        ),
        (json!(t1), json!("two"))
    );
    let t = info(&s, t1).await;
    assert_eq!(roles(&t), (json!("a"), json!(["m"]), json!(["b"])));
    assert_eq!(t["size"], 3);

    let r = on(&s, "team/queryDetail", t1, &[]).await;
    let created = r["tinfo"]["createtime"].clone();
    let m = |accid: &str| {
        json!({"accid": accid, "nick": "", "mute": false, "custom": "", "createtime": created,
            "updatetime": created})
    };
    let mut manager = m("m");
    manager["updatetime"] = r["tinfo"]["updatetime"].clone();
    assert_eq!(r["tinfo"]["owner"], m("a"));
    assert_eq!(r["tinfo"]["admins"], json!([manager]));
    assert_eq!(r["tinfo"]["members"], json!([m("b")]));
    assert_eq!(r["tinfo"]["tid"], t1);
    assert!(r["tinfo"]["updatetime"].as_i64().unwrap() < now);

    // Unknown, dismissed, malformed, too many.
    let r = s
        .call("team/query", &[("tids", "[999999]"), ("ope", "0")])
        .await;
    assert_eq!(r, err(803, "team 999999 not found"));
    let both = format!("[{t1}, 999999]");
    let r = s
        .call(
            "team/query",
            &[("tids", &both), ("ope", "0"), ("ignoreInvalid", "true")],
        )
        .await;
    assert_eq!(r["invalidTids"], json!([999999]));
    assert_eq!(r["tinfos"].as_array().unwrap().len(), 1);
    let thirty_one: Vec<i64> = (1..=31).collect();
    let thirty_one = serde_json::to_string(&thirty_one).unwrap();
    for (p, want) in [
        (
            vec![("tids", "[\"x\"]"), ("ope", "0")],
            err(414, "tids must be a team id"),
        ),
        (
            vec![("tids", "3"), ("ope", "0")],
            err(414, "tids must be a JSON array of team ids"),
        ),
        (
            vec![("tids", thirty_one.as_str()), ("ope", "0")],
            err(414, "tids has more than 30 team ids"),
        ),
        (vec![("tids", "[1]")], err(414, "missing parameter: ope")),
        (vec![("ope", "1")], err(414, "missing parameter: tids")),
    ] {
        assert_eq!(s.call("team/query", &p).await, want, "{p:?}");
    }
    assert_eq!(
        s.call("team/queryDetail", &[("tid", "abc")]).await,
        err(414, "tid must be a team id")
    );
    assert_eq!(
        s.call("team/queryDetail", &[("tid", "424242")]).await,
        err(803, "team 424242 not found")
    );
    assert_eq!(on(&s, "team/remove", t2, &[("owner", "b")]).await, ok());
    assert_eq!(
        on(&s, "team/queryDetail", t2, &[]).await,
        err(803, &format!("team {t2} not found"))
    );
}

#[tokio::test]
async fn add_admits_at_once_or_invites_and_refuses_with_team_codes() {
    let s = TestServer::start().await;
    create_users(&s, &["a", "b", "c", "d", "e", "outsider"]).await;
    let t = team(&s, "a", &["b"], &[("teamMemberLimit", "4")]).await;
    let add = |owner: &'static str, members: &'static [&'static str], magree: &'static str| {
        let s = &s;
        async move {
            let m = arr(members);
            on(
                s,
                "team/add",
                t,
                &[
                    ("owner", owner),
                    ("members", &m),
                    ("magree", magree),
                    ("msg", "hi"),
                ],
            )
            .await
        }
    };
    assert_eq!(
        add("a", &["c", "b", "ghost"], "0").await["faccid"]["accid"],
        json!(["ghost"])
    );
    assert_eq!(roles(&info(&s, t).await).2, json!(["b", "c"]));
    assert_eq!(
        add("a", &["b", "c"], "0").await,
        err(809, &format!("b, c already in team {t}"))
    );
    assert_eq!(
        add("b", &["d"], "0").await,
        err(
            802,
            "b may not add members: the owner or a manager only (invitemode 0)"
        )
    );
    assert_eq!(
        add("outsider", &["d"], "0").await,
        err(804, &format!("outsider is not in team {t}"))
    );
    assert_eq!(
        add("a", &["d", "e"], "0").await,
        err(801, &format!("team {t} is full (teamMemberLimit 4)"))
    );
    assert_eq!(add("a", &["d"], "0").await, ok());
    // Full: even an invitation is refused.
    assert_eq!(
        add("a", &["e"], "1").await,
        err(801, &format!("team {t} is full (teamMemberLimit 4)"))
    );
    assert_eq!(
        on(
            &s,
            "team/add",
            999,
            &[
                ("owner", "a"),
                ("members", "[\"e\"]"),
                ("magree", "0"),
                ("msg", "m")
            ]
        )
        .await,
        err(803, "team 999 not found")
    );
    for (p, want) in [
        (
            vec![("owner", "a"), ("members", "[\"e\"]"), ("magree", "0")],
            err(414, "missing parameter: msg"),
        ),
        (
            vec![("owner", "a"), ("members", "[\"e\"]"), ("msg", "m")],
            err(414, "missing parameter: magree"),
        ),
        (
            vec![
                ("owner", "ghost"),
                ("members", "[\"e\"]"),
                ("magree", "0"),
                ("msg", "m"),
            ],
            err(414, "ghost not register"),
        ),
        (
            vec![("owner", "a"), ("magree", "0"), ("msg", "m")],
            err(414, "missing parameter: members"),
        ),
    ] {
        assert_eq!(on(&s, "team/add", t, &p).await, want, "{p:?}");
    }
    let many: Vec<String> = (0..201).map(|i| format!("u{i}")).collect();
    let many = serde_json::to_string(&many).unwrap();
    assert_eq!(
        on(
            &s,
            "team/add",
            t,
            &[
                ("owner", "a"),
                ("members", &many),
                ("magree", "0"),
                ("msg", "m")
            ]
        )
        .await,
        err(414, "members has more than 200 accids")
    );

    // invitemode 1: any member may add; magree 1: pending until accepted.
    let t2 = team(&s, "a", &["b"], &[("invitemode", "1")]).await;
    let r = on(
        &s,
        "team/add",
        t2,
        &[
            ("owner", "b"),
            ("members", "[\"c\"]"),
            ("magree", "1"),
            ("msg", "come"),
        ],
    )
    .await;
    assert_eq!(r, ok());
    assert_eq!(
        roles(&info(&s, t2).await).2,
        json!(["b"]),
        "c is only invited"
    );
    assert_eq!(
        on(&s, "team/acceptInvite", t2, &[("accid", "c")]).await,
        ok()
    );
    assert_eq!(roles(&info(&s, t2).await).2, json!(["b", "c"]));
    assert_eq!(
        on(&s, "team/acceptInvite", t2, &[("accid", "c")]).await,
        err(807, "no pending invitation for c")
    );
    assert_eq!(
        on(&s, "team/kick", t2, &[("owner", "a"), ("member", "d")]).await,
        err(804, &format!("d is not in team {t2}"))
    );
    on(
        &s,
        "team/add",
        t2,
        &[
            ("owner", "a"),
            ("members", "[\"d\"]"),
            ("magree", "1"),
            ("msg", "m"),
        ],
    )
    .await;
    assert_eq!(
        on(&s, "team/kick", t2, &[("owner", "a"), ("member", "d")]).await,
        err(804, &format!("d is not in team {t2}")),
        "a pending invitee is not a member"
    );
    assert_eq!(
        on(
            &s,
            "team/rejectInvite",
            t2,
            &[("accid", "d"), ("msg", "no")]
        )
        .await,
        ok()
    );
    assert_eq!(
        on(&s, "team/rejectInvite", t2, &[("accid", "d")]).await,
        err(807, "no pending invitation for d")
    );
    assert_eq!(
        on(&s, "team/acceptInvite", t2, &[("accid", "ghost")]).await,
        err(414, "ghost not register")
    );
}

#[tokio::test]
async fn kick_follows_roles_and_reports_faccid() {
    let s = TestServer::start().await;
    create_users(&s, &["a", "m1", "m2", "b", "c", "x"]).await;
    let t = team(&s, "a", &["m1", "m2", "b", "c"], &[]).await;
    on(
        &s,
        "team/addManager",
        t,
        &[("owner", "a"), ("members", "[\"m1\",\"m2\"]")],
    )
    .await;
    let kick = |owner: &'static str, who: (&'static str, &'static str)| {
        let s = &s;
        async move { on(s, "team/kick", t, &[("owner", owner), who]).await }
    };
    assert_eq!(
        kick("b", ("member", "c")).await,
        err(802, "b may not kick: the owner or a manager only")
    );
    assert_eq!(
        kick("m1", ("member", "m2")).await,
        err(
            802,
            "m1 may not kick m2: a manager kicks ordinary members only"
        )
    );
    assert_eq!(
        kick("m1", ("member", "a")).await,
        err(
            802,
            &format!("a is the owner of team {t}: the owner cannot be kicked")
        )
    );
    assert_eq!(
        kick("a", ("members", "[\"a\"]")).await,
        err(
            802,
            &format!("a is the owner of team {t}: the owner cannot be kicked")
        )
    );
    assert_eq!(
        kick("a", ("members", "[\"x\"]")).await,
        err(804, &format!("x not in team {t}"))
    );
    assert_eq!(
        kick("x", ("member", "b")).await,
        err(804, &format!("x is not in team {t}"))
    );
    assert_eq!(
        kick("a", ("members", "[\"ghost\"]")).await,
        err(414, "ghost not register")
    );
    assert_eq!(
        kick("m1", ("members", "[\"b\",\"x\"]")).await,
        json!({"code": 200, "faccid": {"accid": ["x"], "msg": "not in the team"}})
    );
    assert_eq!(kick("a", ("member", "m2")).await, ok());
    assert_eq!(
        roles(&info(&s, t).await),
        (json!("a"), json!(["m1"]), json!(["c"]))
    );
    assert_eq!(
        on(&s, "team/kick", t, &[("owner", "a")]).await,
        err(414, "missing parameter: member or members")
    );
}

#[tokio::test]
async fn remove_update_and_change_owner_follow_roles() {
    let s = TestServer::with(|c| c.teams.max_owned = 1).await;
    create_users(&s, &["a", "m", "b", "x", "rich"]).await;
    let t = team(&s, "a", &["m", "b"], &[]).await;
    team(&s, "rich", &[], &[]).await;
    on(
        &s,
        "team/addManager",
        t,
        &[("owner", "a"), ("members", "[\"m\"]")],
    )
    .await;
    assert_eq!(
        on(&s, "team/remove", t, &[("owner", "m")]).await,
        err(802, "m may not dismiss the team: the owner only")
    );

    // update: info fields for managers (any member with uptinfomode 1), custom likewise with
    // upcustommode, modes and the limit for managers only.
    let update = |owner: &'static str, fields: Vec<(&'static str, &'static str)>| {
        let s = &s;
        async move {
            let mut p = vec![("owner", owner)];
            p.extend(fields);
            on(s, "team/update", t, &p).await
        }
    };
    assert_eq!(
        update("b", vec![("tname", "mine")]).await,
        err(
            802,
            "b may not update the team: the owner or a manager only (uptinfomode 0)"
        )
    );
    assert_eq!(
        update("b", vec![("custom", "c")]).await,
        err(
            802,
            "b may not update custom: the owner or a manager only (upcustommode 0)"
        )
    );
    assert_eq!(
        update("m", vec![("uptinfomode", "1"), ("upcustommode", "1")]).await,
        ok()
    );
    assert_eq!(
        update("b", vec![("tname", "mine"), ("custom", "c")]).await,
        ok()
    );
    assert_eq!(
        update("b", vec![("joinmode", "1")]).await,
        err(
            802,
            "b may not change the team's modes or limit: the owner or a manager only"
        )
    );
    assert_eq!(
        update("a", vec![("teamMemberLimit", "2")]).await,
        err(414, "teamMemberLimit must be at least the team's size 3: 2")
    );
    assert_eq!(
        update("a", vec![]).await,
        err(
            414,
            "nothing to update: give tname, announcement, intro, custom, icon, joinmode, beinvitemode, invitemode, uptinfomode, upcustommode or teamMemberLimit"
        )
    );
    assert_eq!(
        update("x", vec![("tname", "n")]).await,
        err(804, &format!("x is not in team {t}"))
    );
    assert_eq!(
        update(
            "a",
            vec![("teamMemberLimit", "3"), ("announcement", "news")]
        )
        .await,
        ok()
    );
    let i = info(&s, t).await;
    assert_eq!(
        (
            &i["tname"],
            &i["custom"],
            &i["announcement"],
            &i["maxusers"]
        ),
        (&json!("mine"), &json!("c"), &json!("news"), &json!(3))
    );

    // changeOwner.
    let change = |owner: &'static str, new: &'static str, leave: &'static str| {
        let s = &s;
        async move {
            on(
                s,
                "team/changeOwner",
                t,
                &[("owner", owner), ("newowner", new), ("leave", leave)],
            )
            .await
        }
    };
    assert_eq!(
        change("m", "b", "2").await,
        err(802, "m may not change the owner: the owner only")
    );
    assert_eq!(
        change("a", "a", "2").await,
        err(807, &format!("a is the owner of team {t} already"))
    );
    assert_eq!(
        change("a", "x", "2").await,
        err(804, &format!("x is not in team {t}"))
    );
    assert_eq!(
        change("a", "ghost", "2").await,
        err(414, "ghost not register")
    );
    assert_eq!(
        change("a", "b", "3").await,
        err(414, "leave must be 1 or 2: \"3\"")
    );
    assert_eq!(
        on(
            &s,
            "team/update",
            t,
            &[("owner", "a"), ("teamMemberLimit", "10")]
        )
        .await,
        ok()
    );
    on(
        &s,
        "team/add",
        t,
        &[
            ("owner", "a"),
            ("members", "[\"rich\"]"),
            ("magree", "0"),
            ("msg", "m"),
        ],
    )
    .await;
    assert_eq!(
        change("a", "rich", "2").await,
        err(806, "rich owns 1 teams already (teams.max_owned)")
    );
    assert_eq!(change("a", "m", "2").await, ok());
    assert_eq!(
        roles(&info(&s, t).await),
        (json!("m"), json!([]), json!(["a", "b", "rich"]))
    );
    assert_eq!(change("m", "b", "1").await, ok());
    assert_eq!(
        roles(&info(&s, t).await),
        (json!("b"), json!([]), json!(["a", "rich"]))
    );
    assert_eq!(on(&s, "team/remove", t, &[("owner", "b")]).await, ok());
    assert_eq!(
        on(&s, "team/remove", t, &[("owner", "b")]).await,
        err(803, &format!("team {t} not found"))
    );
}

#[tokio::test]
async fn managers_are_capped_per_call_and_per_team() {
    let s = TestServer::with(|c| c.teams.max_managers = 2).await;
    let names: Vec<String> = (0..12).map(|i| format!("u{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    create_users(&s, &["a", "x"]).await;
    create_users(&s, &refs).await;
    let t = team(&s, "a", &refs, &[]).await;
    let set = |endpoint: &'static str, owner: &'static str, members: String| {
        let s = &s;
        async move { on(s, endpoint, t, &[("owner", owner), ("members", &members)]).await }
    };
    let eleven = arr(&refs[..11]);
    assert_eq!(
        set("team/addManager", "a", eleven).await,
        err(414, "members has more than 10 accids")
    );
    assert_eq!(
        set("team/addManager", "u0", arr(&["u1"])).await,
        err(802, "u0 may not add managers: the owner only")
    );
    assert_eq!(
        set("team/addManager", "a", arr(&["x"])).await,
        err(804, &format!("x is not in team {t}"))
    );
    assert_eq!(
        set("team/addManager", "a", arr(&["a"])).await,
        err(807, "a is the owner")
    );
    assert_eq!(
        set("team/addManager", "a", arr(&["u0", "u1", "u2"])).await,
        err(
            815,
            &format!("team {t} would have more than 2 managers (teams.max_managers)")
        )
    );
    assert_eq!(set("team/addManager", "a", arr(&["u0", "u1"])).await, ok());
    assert_eq!(
        set("team/addManager", "a", arr(&["u1"])).await,
        err(807, "u1 is a manager already")
    );
    assert_eq!(
        set("team/removeManager", "a", arr(&["u2"])).await,
        err(807, "u2 is not a manager")
    );
    assert_eq!(
        set("team/removeManager", "u0", arr(&["u1"])).await,
        err(802, "u0 may not remove managers: the owner only")
    );
    assert_eq!(set("team/removeManager", "a", arr(&["u1"])).await, ok());
    assert_eq!(roles(&info(&s, t).await).1, json!(["u0"]));
}

#[tokio::test]
async fn leave_nicks_bans_and_listings() {
    let s = TestServer::start().await;
    create_users(&s, &["a", "m", "b", "c", "x"]).await;
    let t = team(&s, "a", &["m", "b", "c"], &[]).await;
    on(
        &s,
        "team/addManager",
        t,
        &[("owner", "a"), ("members", "[\"m\"]")],
    )
    .await;

    assert_eq!(
        on(&s, "team/leave", t, &[("accid", "a")]).await,
        err(802, "the owner must changeOwner before leaving")
    );
    assert_eq!(
        on(&s, "team/leave", t, &[("accid", "x")]).await,
        err(804, &format!("x is not in team {t}"))
    );
    assert_eq!(on(&s, "team/leave", t, &[("accid", "c")]).await, ok());
    assert_eq!(roles(&info(&s, t).await).2, json!(["b"]));

    // updateTeamNick: oneself, or anyone by the owner or a manager.
    let nick =
        |owner: &'static str, accid: &'static str, extra: Vec<(&'static str, &'static str)>| {
            let s = &s;
            async move {
                let mut p = vec![("owner", owner), ("accid", accid)];
                p.extend(extra);
                on(s, "team/updateTeamNick", t, &p).await
            }
        };
    assert_eq!(nick("b", "b", vec![("nick", "bee")]).await, ok());
    assert_eq!(
        nick("b", "m", vec![("nick", "x")]).await,
        err(
            802,
            "b may not change another member's nick: the owner or a manager only"
        )
    );
    assert_eq!(nick("m", "b", vec![("custom", "{}")]).await, ok());
    assert_eq!(
        nick("a", "x", vec![("nick", "x")]).await,
        err(804, &format!("x is not in team {t}"))
    );
    assert_eq!(
        nick("a", "b", vec![]).await,
        err(414, "nothing to update: give nick or custom")
    );
    assert_eq!(
        nick(
            "a",
            "b",
            vec![("nick", Box::leak("n".repeat(33).into_boxed_str()))]
        )
        .await,
        err(414, "nick is longer than 32 characters")
    );
    let big: &'static str = Box::leak("好".repeat(342).into_boxed_str());
    assert_eq!(
        nick("a", "b", vec![("custom", big)]).await,
        err(414, "custom is longer than 1024 bytes")
    );

    // muteTeam is the member's own switch.
    assert_eq!(
        on(&s, "team/muteTeam", t, &[("accid", "b"), ("ope", "1")]).await,
        ok()
    );
    assert_eq!(
        on(&s, "team/muteTeam", t, &[("accid", "b"), ("ope", "3")]).await,
        err(414, "ope must be 1 or 2: \"3\"")
    );
    assert_eq!(
        on(&s, "team/muteTeam", t, &[("accid", "x"), ("ope", "1")]).await,
        err(804, &format!("x is not in team {t}"))
    );

    // muteTlist, listTeamMute.
    let ban = |owner: &'static str, accid: &'static str, mute: &'static str| {
        let s = &s;
        async move {
            on(
                s,
                "team/muteTlist",
                t,
                &[("owner", owner), ("accid", accid), ("mute", mute)],
            )
            .await
        }
    };
    assert_eq!(
        ban("b", "m", "1").await,
        err(802, "b may not ban members: the owner or a manager only")
    );
    assert_eq!(
        ban("m", "a", "1").await,
        err(802, "m may not ban a: a manager bans ordinary members only")
    );
    assert_eq!(
        ban("m", "x", "1").await,
        err(804, &format!("x is not in team {t}"))
    );
    assert_eq!(
        ban("m", "b", "2").await,
        err(414, "mute must be 0 or 1: \"2\"")
    );
    assert_eq!(ban("m", "b", "1").await, ok());
    let r = on(&s, "team/listTeamMute", t, &[("owner", "a")]).await;
    assert_eq!(
        r,
        json!({"code": 200, "mutes": [{"nick": "bee", "accid": "b", "tid": t, "type": 1}]})
    );
    assert_eq!(
        on(&s, "team/listTeamMute", t, &[("owner", "b")]).await,
        err(
            802,
            "b may not list banned members: the owner or a manager only"
        )
    );
    assert_eq!(ban("a", "b", "0").await, ok());
    assert_eq!(
        on(&s, "team/listTeamMute", t, &[("owner", "m")]).await,
        json!({"code": 200, "mutes": []})
    );

    // muteTlistAll: mute wins over muteType.
    let all = |p: Vec<(&'static str, &'static str)>| {
        let s = &s;
        async move {
            let mut q = vec![("owner", "m")];
            q.extend(p);
            on(s, "team/muteTlistAll", t, &q).await
        }
    };
    assert_eq!(
        all(vec![]).await,
        err(414, "missing parameter: mute or muteType")
    );
    assert_eq!(
        all(vec![("muteType", "2")]).await,
        err(414, "muteType must be 0, 1 or 3: \"2\"")
    );
    assert_eq!(
        all(vec![("mute", "maybe")]).await,
        err(414, "mute must be true or false: \"maybe\"")
    );
    assert_eq!(all(vec![("muteType", "3")]).await, ok());
    assert_eq!(
        (
            info(&s, t).await["muteType"].clone(),
            info(&s, t).await["mute"].clone()
        ),
        (json!(3), json!(true))
    );
    assert_eq!(all(vec![("mute", "false"), ("muteType", "3")]).await, ok());
    assert_eq!(info(&s, t).await["muteType"], 0);
    assert_eq!(all(vec![("mute", "true")]).await, ok());
    assert_eq!(info(&s, t).await["muteType"], 1);
    assert_eq!(
        on(
            &s,
            "team/muteTlistAll",
            t,
            &[("owner", "b"), ("mute", "true")]
        )
        .await,
        err(802, "b may not mute the team: the owner or a manager only")
    );

    // joinTeams, listMemberInfo.
    let t2 = team(&s, "b", &[], &[("tname", "own")]).await;
    let r = s.call("team/joinTeams", &[("accid", "b")]).await;
    assert_eq!(r["count"], 2);
    assert_eq!(
        r["infos"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["tid"].clone(), i["owner"].clone(), i["size"].clone()))
            .collect::<Vec<_>>(),
        vec![
            (json!(t), json!("a"), json!(3)),
            (json!(t2), json!("b"), json!(1))
        ]
    );
    let r = s.call("team/listMemberInfo", &[("accid", "b")]).await;
    let d = &r["data"][0];
    assert_eq!(
        d,
        &json!({"tid": t, "accid": "b", "nick": "bee", "mute": false, "managerPushEnable": true,
            "pushEnable": false, "createtime": d["createtime"], "updatetime": d["updatetime"]})
    );
    assert_eq!(r["data"][1]["pushEnable"], true);
    assert_eq!(
        s.call("team/joinTeams", &[("accid", "x")]).await,
        json!({"code": 200, "count": 0, "infos": []})
    );
    assert_eq!(
        s.call("team/listMemberInfo", &[("accid", "ghost")]).await,
        err(414, "ghost not register")
    );
}

#[tokio::test]
async fn applications_follow_joinmode() {
    let s = TestServer::start().await;
    create_users(&s, &["a", "m", "b", "c", "d"]).await;
    let open = team(&s, "a", &[], &[]).await;
    let asked = team(
        &s,
        "a",
        &["m"],
        &[("joinmode", "1"), ("teamMemberLimit", "3")],
    )
    .await;
    let closed = team(&s, "a", &[], &[("joinmode", "2")]).await;
    let apply = |tid: i64, accid: &'static str| {
        let s = &s;
        async move {
            on(
                s,
                "team/apply",
                tid,
                &[("accid", accid), ("msg", "me please")],
            )
            .await
        }
    };
    assert_eq!(
        apply(open, "b").await,
        json!({"code": 200, "data": {"pending": false}})
    );
    assert_eq!(
        apply(open, "b").await,
        err(809, &format!("b is already in team {open}"))
    );
    assert_eq!(
        apply(closed, "b").await,
        err(802, "joinmode 2: nobody may apply")
    );
    assert_eq!(
        apply(asked, "b").await,
        json!({"code": 200, "data": {"pending": true}})
    );
    assert_eq!(
        apply(asked, "c").await,
        json!({"code": 200, "data": {"pending": true}})
    );
    assert_eq!(
        apply(asked, "d").await,
        json!({"code": 200, "data": {"pending": true}})
    );
    assert_eq!(
        roles(&info(&s, asked).await).2,
        json!(["m"]),
        "pending applicants are not members"
    );
    let decide = |endpoint: &'static str, owner: &'static str, accid: &'static str| {
        let s = &s;
        async move { on(s, endpoint, asked, &[("owner", owner), ("accid", accid)]).await }
    };
    assert_eq!(
        decide("team/passApply", "b", "c").await,
        err(804, &format!("b is not in team {asked}"))
    );
    assert_eq!(
        on(
            &s,
            "team/addManager",
            asked,
            &[("owner", "a"), ("members", "[\"m\"]")]
        )
        .await,
        ok()
    );
    assert_eq!(decide("team/passApply", "m", "b").await, ok());
    assert_eq!(
        decide("team/passApply", "b", "c").await,
        err(
            802,
            "b may not decide applications: the owner or a manager only"
        )
    );
    assert_eq!(
        decide("team/passApply", "a", "b").await,
        err(807, "no pending application from b")
    );
    assert_eq!(
        decide("team/passApply", "a", "c").await,
        err(801, &format!("team {asked} is full (teamMemberLimit 3)"))
    );
    assert_eq!(decide("team/rejectApply", "a", "c").await, ok());
    assert_eq!(
        decide("team/rejectApply", "a", "c").await,
        err(807, "no pending application from c")
    );
    assert_eq!(
        roles(&info(&s, asked).await),
        (json!("a"), json!(["m"]), json!(["b"]))
    );
    assert_eq!(apply(999, "b").await, err(803, "team 999 not found"));
    assert_eq!(
        on(
            &s,
            "team/apply",
            open,
            &[("accid", "c"), ("msg", &"m".repeat(151))]
        )
        .await,
        err(414, "msg is longer than 150 characters")
    );
}

#[tokio::test]
async fn team_query_has_its_own_rate_limit() {
    let s = TestServer::with(|c| c.rate_limits.team_query.count = 2).await;
    create_users(&s, &["a"]).await;
    let t = team(&s, "a", &[], &[]).await;
    for _ in 0..2 {
        assert_eq!(info(&s, t).await["tid"], t);
    }
    let tids = format!("[{t}]");
    assert_eq!(
        s.call("team/query", &[("tids", &tids), ("ope", "0")]).await,
        err(416, "too many requests: team/query")
    );
    assert_eq!(
        on(&s, "team/queryDetail", t, &[]).await["code"],
        200,
        "other team calls go on"
    );
}

#[tokio::test]
async fn members_at_their_team_limit_are_left_out_or_refused() {
    let s = TestServer::with(|c| c.teams.max_joined = 1).await;
    create_users(&s, &["a", "b", "c", "d"]).await;
    let t1 = team(&s, "b", &[], &[]).await;
    // b is in one team already: left out of a's create and add, with faccid.
    let t2 = create(&s, "a", &["b", "c"], &[]).await;
    let tid = t2["tid"].as_i64().unwrap();
    assert_eq!(
        t2,
        json!({"code": 200, "tid": tid,
            "faccid": {"accid": ["b"], "msg": "not register or over their team limit"}})
    );
    assert_eq!(
        on(
            &s,
            "team/add",
            tid,
            &[
                ("owner", "a"),
                ("members", "[\"b\"]"),
                ("magree", "0"),
                ("msg", "m")
            ]
        )
        .await,
        json!({"code": 200, "faccid": {"accid": ["b"], "msg": "not register or over their team limit"}})
    );
    assert_eq!(roles(&info(&s, tid).await).2, json!(["c"]));
    // Accepting or applying at the limit: 419.
    on(
        &s,
        "team/add",
        t1,
        &[
            ("owner", "b"),
            ("members", "[\"d\"]"),
            ("magree", "1"),
            ("msg", "m"),
        ],
    )
    .await;
    let t3 = team(&s, "d", &[], &[]).await;
    assert_eq!(
        on(&s, "team/acceptInvite", t1, &[("accid", "d")]).await,
        err(419, "d is in 1 teams already (teams.max_joined)")
    );
    assert_eq!(
        on(&s, "team/apply", t1, &[("accid", "c")]).await,
        err(419, "c is in 1 teams already (teams.max_joined)")
    );
    assert_eq!(
        create(&s, "c", &[], &[]).await,
        err(419, "c is in 1 teams already (teams.max_joined)")
    );
    // A full team refuses an accepted invitation with 801.
    on(
        &s,
        "team/leave",
        t2["tid"].as_i64().unwrap(),
        &[("accid", "c")],
    )
    .await;
    on(
        &s,
        "team/update",
        t3,
        &[("owner", "d"), ("teamMemberLimit", "2")],
    )
    .await;
    on(&s, "team/remove", t1, &[("owner", "b")]).await;
    assert_eq!(
        on(
            &s,
            "team/add",
            t3,
            &[
                ("owner", "d"),
                ("members", "[\"c\"]"),
                ("magree", "1"),
                ("msg", "m")
            ]
        )
        .await,
        ok()
    );
    assert_eq!(
        on(
            &s,
            "team/add",
            t3,
            &[
                ("owner", "d"),
                ("members", "[\"b\"]"),
                ("magree", "0"),
                ("msg", "m")
            ]
        )
        .await,
        ok()
    );
    assert_eq!(
        on(&s, "team/acceptInvite", t3, &[("accid", "c")]).await,
        err(801, &format!("team {t3} is full (teamMemberLimit 2)"))
    );
}
