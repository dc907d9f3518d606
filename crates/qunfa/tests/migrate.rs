//! `qunfa migrate --to postgres://…`, end to end: an embedded deployment with accounts,
//! dictionaries, keyword lists, messages, audiences, cursors and reads is copied into a fresh
//! PostgreSQL schema; a server on PostgreSQL then answers exactly as the embedded one did, with
//! the same keys, ordinals and msgids; a second run changes nothing; a target holding other
//! data is refused.

#![allow(clippy::unwrap_used)]

mod support;

use std::process::{Command, Output};
use std::time::Duration;

use qunfa_server::client::NimClient;
use serde_json::{Value, json};
use support::{Client, Opts, PgSchema, Serve, msgid};

fn migrate(dir: &std::path::Path, to: &str) -> Output {
    Command::new(support::BIN)
        .current_dir(dir)
        .args(["migrate", "--to", to])
        .env("NO_COLOR", "1")
        .env_remove("QUNFA_STORE__URL")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

async fn ok(nim: &NimClient, endpoint: &str, params: &[(&str, &str)]) -> Value {
    let v = nim.call(endpoint, params).await.unwrap();
    assert_eq!(v["code"], 200, "{endpoint}: {v}");
    v
}

/// What the tests compare between the embedded server and the migrated one.
async fn view(nim: &NimClient, tid: i64) -> Value {
    let t = tid.to_string();
    let mut inboxes = Vec::new();
    for a in ["zhangsan", "lisi", "wangwu"] {
        inboxes.push(ok(nim, "history/queryUserMsgs", &[("accid", a)]).await);
    }
    json!({
        "uinfos": ok(nim, "user/getUinfos", &[("accids", r#"["zhangsan","lisi","wangwu"]"#)]).await,
        "areas": ok(nim, "dic/listAreas", &[]).await,
        "types": ok(nim, "dic/listEnterptypes", &[]).await,
        "words": ok(nim, "antispam/getWords", &[]).await,
        "mass": ok(nim, "history/queryMassMsgs", &[]).await,
        "inboxes": inboxes,
        "preview": ok(nim, "msg/previewAudience", &[("areaid", "37")]).await,
        "team": ok(nim, "team/queryDetail", &[("tid", &t)]).await,
        "teamMsgs": ok(nim, "history/queryTeamMsg", &[("tid", &t), ("accid", "lisi"),
            ("begintime", "0"), ("endtime", "9999999999999"), ("limit", "100")]).await,
        "joined": ok(nim, "team/listMemberInfo", &[("accid", "lisi")]).await,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_deployment_moves_to_postgres_with_every_id_kept() {
    let dir = tempfile::tempdir().unwrap();
    let pg = PgSchema::new();
    let embedded = Serve::start(Opts {
        dir: dir.path().to_owned(),
        ..Opts::default()
    });
    let (appkey, secret) = embedded.app.clone().unwrap();
    let nim = NimClient::new(&embedded.url, &appkey, &secret);
    ok(
        &nim,
        "dic/createArea",
        &[("areaid", "37"), ("name", "山东")],
    )
    .await;
    ok(
        &nim,
        "dic/createArea",
        &[("areaid", "3701"), ("name", "济南"), ("parentid", "37")],
    )
    .await;
    ok(
        &nim,
        "dic/createEnterptype",
        &[("enterptypeid", "1"), ("name", "餐饮")],
    )
    .await;
    for (a, area) in [("zhangsan", "3701"), ("lisi", "37"), ("wangwu", "")] {
        ok(
            &nim,
            "user/create",
            &[
                ("accid", a),
                ("token", &format!("{a}-token")),
                ("areaid", area),
                ("enterptypeid", "1"),
            ],
        )
        .await;
    }
    ok(&nim, "antispam/setWords", &[("words", r#"["赌博"]"#)]).await;
    let body = json!({"msg": "济南的朋友们好"}).to_string();
    let sent = ok(
        &nim,
        "msg/sendMsgToAll",
        &[
            ("areaid", "37"),
            ("type", "0"),
            ("body", &body),
            ("markRead", "1"),
        ],
    )
    .await;
    let mass = sent["data"]["msgid"].as_i64().unwrap();
    ok(
        &nim,
        "msg/sendMsgToAll",
        &[("areaid", "37"), ("type", "0"), ("body", &body)],
    )
    .await;
    let p2p = json!({"msg": "你好"}).to_string();
    ok(
        &nim,
        "msg/sendMsg",
        &[
            ("from", "wangwu"),
            ("ope", "0"),
            ("to", "zhangsan"),
            ("type", "0"),
            ("body", &p2p),
        ],
    )
    .await;
    // A team with a member, a message, a ban and a pending invitation.
    let team = ok(
        &nim,
        "team/create",
        &[
            ("tname", "家"),
            ("owner", "zhangsan"),
            ("members", r#"["lisi"]"#),
            ("msg", "m"),
            ("magree", "0"),
            ("joinmode", "0"),
        ],
    )
    .await["tid"]
        .as_i64()
        .unwrap();
    let ts = team.to_string();
    ok(
        &nim,
        "msg/sendMsg",
        &[
            ("from", "lisi"),
            ("ope", "1"),
            ("to", &ts),
            ("type", "0"),
            ("body", &p2p),
        ],
    )
    .await;
    ok(
        &nim,
        "team/muteTlist",
        &[
            ("tid", &ts),
            ("owner", "zhangsan"),
            ("accid", "lisi"),
            ("mute", "1"),
        ],
    )
    .await;
    ok(
        &nim,
        "team/add",
        &[
            ("tid", &ts),
            ("owner", "zhangsan"),
            ("members", r#"["wangwu"]"#),
            ("magree", "1"),
            ("msg", "m"),
        ],
    )
    .await;
    // zhangsan reads the targeted send and acknowledges everything.
    let (mut c, caught_up) =
        Client::login(&embedded.ws_url(), &appkey, "zhangsan", "zhangsan-token", 0).await;
    let last = caught_up.iter().filter_map(msgid).max().unwrap();
    use futures_util::SinkExt;
    c.ws.send(tokio_tungstenite::tungstenite::Message::Text(
        json!({"op": "read", "msgids": [mass]}).to_string().into(),
    ))
    .await
    .unwrap();
    c.ws.send(tokio_tungstenite::tungstenite::Message::Text(
        json!({"op": "ack", "cursor": last}).to_string().into(),
    ))
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let stats = ok(
        &nim,
        "msg/queryMassMsgStats",
        &[("msgid", &mass.to_string())],
    )
    .await;
    assert_eq!(
        (
            stats["data"]["delivered"].as_u64(),
            stats["data"]["read"].as_u64()
        ),
        (Some(1), Some(1)),
        "{stats}"
    );
    let before = view(&nim, team).await;
    drop(c);
    drop(embedded);

    // The copy.
    let out = migrate(dir.path(), &pg.url());
    assert!(out.status.success(), "{}", text(&out));
    let log = text(&out);
    assert!(
        log.contains("migrated 1 apps") && log.contains(" ok"),
        "{log}"
    );

    // Again: everything is there already; nothing changes (counts still match).
    let out = migrate(dir.path(), &pg.url());
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("already holds data from this deployment"),
        "{}",
        text(&out)
    );

    // A server on PostgreSQL: same keys, same answers, same msgids and cursors.
    let moved = Serve::start(Opts {
        dir: tempfile::tempdir().unwrap().keep(),
        store: Some(pg.url()),
        ..Opts::default()
    });
    assert!(
        moved.app.is_none(),
        "the migrated app is there: no first app is made"
    );
    let nim2 = NimClient::new(&moved.url, &appkey, &secret);
    assert_eq!(view(&nim2, team).await, before);
    let stats2 = ok(
        &nim2,
        "msg/queryMassMsgStats",
        &[("msgid", &mass.to_string())],
    )
    .await;
    assert_eq!(stats2, stats);
    // A client reconnecting with its old cursor gets nothing old, and new sends get new msgids.
    let (_c, again) =
        Client::login(&moved.ws_url(), &appkey, "zhangsan", "zhangsan-token", last).await;
    assert!(again.is_empty(), "{again:?}");
    let next = ok(
        &nim2,
        "msg/sendMsg",
        &[
            ("from", "wangwu"),
            ("ope", "0"),
            ("to", "zhangsan"),
            ("type", "0"),
            ("body", &p2p),
        ],
    )
    .await;
    assert!(next["data"]["msgid"].as_i64().unwrap() > last);
    let created = ok(
        &nim2,
        "user/create",
        &[("accid", "zhaoliu"), ("areaid", "3701")],
    )
    .await;
    assert_eq!(created["info"]["accid"], "zhaoliu");
    let n = ok(&nim2, "msg/previewAudience", &[("areaid", "37")]).await;
    assert_eq!(n["data"]["recipients"], 3, "{n}");
    // Teams go on: the invitation is still pending, a new team gets a new tid.
    ok(
        &nim2,
        "team/acceptInvite",
        &[("tid", &ts), ("accid", "wangwu")],
    )
    .await;
    let again = ok(
        &nim2,
        "team/create",
        &[
            ("tname", "新"),
            ("owner", "wangwu"),
            ("members", "[]"),
            ("msg", "m"),
            ("magree", "0"),
            ("joinmode", "0"),
        ],
    )
    .await;
    assert!(again["tid"].as_i64().unwrap() > team, "{again}");
    drop(moved);

    // Another deployment into the same target: refused, and nothing written.
    let other = tempfile::tempdir().unwrap();
    drop(Serve::start(Opts {
        dir: other.path().to_owned(),
        ..Opts::default()
    }));
    let out = migrate(other.path(), &pg.url());
    assert!(!out.status.success());
    assert!(text(&out).contains("holds other data"), "{}", text(&out));

    // A target that bootstrapped its own app: refused too.
    let own = PgSchema::new();
    drop(Serve::start(Opts {
        dir: tempfile::tempdir().unwrap().keep(),
        store: Some(own.url()),
        ..Opts::default()
    }));
    let out = migrate(dir.path(), &own.url());
    assert!(!out.status.success());
    assert!(text(&out).contains("app(s) of its own"), "{}", text(&out));
}
