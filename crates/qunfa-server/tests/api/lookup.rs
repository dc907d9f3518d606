//! qunfa's look-ups for the console: `user/search`, `dic/countAccounts`, `msg/queryOverview`.

use serde_json::{Value, json};

use crate::harness::TestServer;
use crate::ws::Client;

async fn user(s: &TestServer, accid: &str, area: &str, etype: &str) -> String {
    let token = format!("token-of-{accid}");
    let r = s
        .call(
            "user/create",
            &[
                ("accid", accid),
                ("token", &token),
                ("name", &format!("name of {accid}")),
                ("areaid", area),
                ("enterptypeid", etype),
            ],
        )
        .await;
    assert_eq!(r["code"], 200, "{r}");
    token
}

async fn dictionaries(s: &TestServer) {
    for (id, name, parent) in [
        ("370000", "山东省", ""),
        ("370100", "济南市", "370000"),
        ("370102", "历下区", "370100"),
        ("370200", "青岛市", "370000"),
        ("440000", "广东省", ""),
    ] {
        let r = s
            .call(
                "dic/createArea",
                &[("areaid", id), ("name", name), ("parentid", parent)],
            )
            .await;
        assert_eq!(r["code"], 200, "{r}");
    }
    for (id, name) in [("1", "食品制造"), ("2", "餐饮服务"), ("3", "物流运输")] {
        let r = s
            .call(
                "dic/createEnterptype",
                &[("enterptypeid", id), ("name", name)],
            )
            .await;
        assert_eq!(r["code"], 200, "{r}");
    }
}

async fn block(s: &TestServer, accid: &str) {
    assert_eq!(
        s.call("user/block", &[("accid", accid)]).await,
        json!({"code": 200})
    );
}

#[tokio::test]
async fn user_search_pages_accounts_by_accid_prefix() {
    let s = TestServer::start().await;
    dictionaries(&s).await;
    for (a, area, t) in [
        ("zhang_a", "370102", "1"),
        ("zhang.b", "", ""),
        ("zhang", "370200", "2"),
        ("li", "", ""),
    ] {
        user(&s, a, area, t).await;
    }
    block(&s, "zhang_a").await;
    // A send without `from` creates the system account `qunfa.system`: never listed.
    let body = json!({"msg": "hi"}).to_string();
    let r = s
        .call("msg/sendMsgToAll", &[("type", "0"), ("body", &body)])
        .await;
    assert_eq!(r["code"], 200, "{r}");
    assert_eq!(
        s.call("user/search", &[("prefix", "qunfa")]).await,
        json!({"code": 200, "data": {"accounts": [], "cursor": ""}})
    );

    let r = s
        .call("user/search", &[("prefix", "ZHANG"), ("limit", "2")])
        .await;
    assert_eq!(
        r,
        json!({"code": 200, "data": {"accounts": [
            {"accid": "zhang", "name": "name of zhang", "areaid": "370200", "enterptypeid": "2", "gender": 0, "blocked": false},
            {"accid": "zhang.b", "name": "name of zhang.b", "gender": 0, "blocked": false},
        ], "cursor": "zhang.b"}})
    );
    let r = s
        .call(
            "user/search",
            &[("prefix", "zhang"), ("limit", "2"), ("cursor", "zhang.b")],
        )
        .await;
    assert_eq!(
        r,
        json!({"code": 200, "data": {"accounts": [
            {"accid": "zhang_a", "name": "name of zhang_a", "areaid": "370102", "enterptypeid": "1", "gender": 0, "blocked": true},
        ], "cursor": ""}})
    );
    // No prefix: everyone, 20 to a page by default.
    let r = s.call("user/search", &[]).await;
    let accids: Vec<&str> = r["data"]["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["accid"].as_str().unwrap())
        .collect();
    assert_eq!(accids, ["li", "zhang", "zhang.b", "zhang_a"]);
    assert_eq!(r["data"]["cursor"], "");
    assert_eq!(
        s.call("user/search", &[("prefix", "wang")]).await,
        json!({"code": 200, "data": {"accounts": [], "cursor": ""}})
    );

    for (params, desc) in [
        (
            vec![("prefix", "a b")],
            r#"prefix may only contain letters, digits, _ @ . -: "a b""#,
        ),
        (
            vec![("prefix", "张")],
            r#"prefix may only contain letters, digits, _ @ . -: "张""#,
        ),
        (
            vec![("prefix", &"a".repeat(33) as &str)],
            "prefix is longer than 32 characters",
        ),
        (
            vec![("cursor", "x y")],
            r#"cursor may only contain letters, digits, _ @ . -: "x y""#,
        ),
        (vec![("limit", "0")], r#"limit must be 1 to 100: "0""#),
        (vec![("limit", "101")], r#"limit must be 1 to 100: "101""#),
    ] {
        assert_eq!(
            s.call("user/search", &params).await,
            json!({"code": 414, "desc": desc}),
            "{params:?}"
        );
    }
}

#[tokio::test]
async fn count_accounts_answers_what_a_send_to_each_entry_reaches() {
    let s = TestServer::start().await;
    assert_eq!(
        s.call("dic/countAccounts", &[]).await,
        json!({"code": 200, "data": {"accounts": 0, "areas": {}, "enterptypes": {}}})
    );
    dictionaries(&s).await;
    for (a, area, t) in [
        ("jinan", "370100", "1"),
        ("lixia1", "370102", "1"),
        ("lixia2", "370102", "2"),
        ("qingdao", "370200", "2"),
        ("blocked", "370102", "1"),
        ("nowhere", "", ""),
    ] {
        user(&s, a, area, t).await;
    }
    block(&s, "blocked").await;
    // The system account (made by a send without `from`) is never counted.
    let body = json!({"msg": "hi"}).to_string();
    let r = s
        .call("msg/sendMsgToAll", &[("type", "0"), ("body", &body)])
        .await;
    assert_eq!(r["data"]["recipients"], 5, "{r}");

    assert_eq!(
        s.call("dic/countAccounts", &[]).await,
        json!({"code": 200, "data": {
            "accounts": 5,
            "areas": {"370000": 4, "370100": 3, "370102": 2, "370200": 1, "440000": 0},
            "enterptypes": {"1": 2, "2": 2, "3": 0},
        }})
    );
    // Each count is what previewAudience says for that entry alone.
    let r = s.call("msg/previewAudience", &[("areaid", "370100")]).await;
    assert_eq!(r["data"]["recipients"], 3);

    // Moving Lixia under Qingdao moves its accounts' counts with it.
    let r = s
        .call(
            "dic/updateArea",
            &[("areaid", "370102"), ("parentid", "370200")],
        )
        .await;
    assert_eq!(r["code"], 200, "{r}");
    let r = s.call("dic/countAccounts", &[]).await;
    assert_eq!(
        r["data"]["areas"],
        json!({"370000": 4, "370100": 1, "370102": 2, "370200": 3, "440000": 0})
    );
}

async fn overview(s: &TestServer, params: &[(&str, &str)]) -> Value {
    s.call("msg/queryOverview", params).await
}

#[tokio::test]
async fn overview_counts_accounts_sessions_and_the_funnel_since_a_time() {
    let s = TestServer::start().await;
    let tokens = [
        user(&s, "a", "", "").await,
        user(&s, "b", "", "").await,
        user(&s, "c", "", "").await,
    ];
    user(&s, "d", "", "").await;
    block(&s, "d").await;
    let empty = json!({"sends": 0, "recipients": 0, "delivered": 0, "read": 0});
    let since = s.clock_ms() - 24 * 3600 * 1000;
    assert_eq!(
        overview(&s, &[]).await,
        json!({"code": 200, "data": {
            "accounts": 4, "blocked": 1, "online": {"sessions": 0, "accounts": 0},
            "since": since,
            "sends": {"sends": 0, "recipients": 0, "delivered": 0, "read": 0, "markRead": empty},
            "truncated": false,
        }})
    );

    // Two days ago: left out of today's figures.
    let body = json!({"msg": "old news"}).to_string();
    let old = s
        .call("msg/sendMsgToAll", &[("type", "0"), ("body", &body)])
        .await;
    assert_eq!(old["code"], 200, "{old}");
    s.clock.advance_ms(2 * 24 * 3600 * 1000);
    let today = s.clock_ms();

    let body = json!({"msg": "please read"}).to_string();
    let r = s
        .call(
            "msg/sendMsgToAll",
            &[
                ("toAccids", r#"["a","b"]"#),
                ("type", "0"),
                ("body", &body),
                ("markRead", "1"),
            ],
        )
        .await;
    let marked = r["data"]["msgid"].as_i64().unwrap();
    let r = s
        .call(
            "msg/broadcastMsg",
            &[("body", "to everyone"), ("isOffline", "true")],
        )
        .await;
    let broadcast = r["msg"]["broadcastId"].as_i64().unwrap();
    assert!(broadcast > marked);
    // Stopped by the keyword filter: not a send anybody gets.
    let r = s
        .call("antispam/setWords", &[("words", r#"["赌博"]"#)])
        .await;
    assert_eq!(r["code"], 200);
    let body = json!({"msg": "赌博"}).to_string();
    let r = s
        .call("msg/sendMsgToAll", &[("type", "0"), ("body", &body)])
        .await;
    assert_eq!(r["data"]["antispam"], true, "{r}");

    // a comes online, has everything and reads the markRead send; b is online twice and has
    // only the first; c never connects.
    let mut a = Client::connect(&s).await;
    assert_eq!(
        a.login(&s.app.appkey, "a", &tokens[0], 0).await["code"],
        200
    );
    let (_, cursor) = a.until_synced().await;
    a.send(json!({"op": "ack", "cursor": cursor})).await;
    a.send(json!({"op": "read", "msgids": [marked]})).await;
    a.send(json!({"op": "ping"})).await;
    assert_eq!(a.next().await.unwrap()["op"], "pong");
    let mut b1 = Client::connect(&s).await;
    assert_eq!(
        b1.login(&s.app.appkey, "b", &tokens[1], marked).await["code"],
        200
    );
    b1.until_synced().await;
    b1.send(json!({"op": "ack", "cursor": marked})).await;
    b1.send(json!({"op": "ping"})).await;
    assert_eq!(b1.next().await.unwrap()["op"], "pong");
    let mut b2 = Client::connect(&s).await;
    assert_eq!(
        b2.login(&s.app.appkey, "b", &tokens[1], marked).await["code"],
        200
    );
    b2.until_synced().await;

    // The broadcast reached a, b, c (d is blocked): 3; the markRead send a and b.
    assert_eq!(
        overview(&s, &[]).await,
        json!({"code": 200, "data": {
            "accounts": 4, "blocked": 1, "online": {"sessions": 3, "accounts": 2},
            "since": today - 24 * 3600 * 1000,
            "sends": {
                "sends": 2, "recipients": 5, "delivered": 3, "read": 1,
                "markRead": {"sends": 1, "recipients": 2, "delivered": 2, "read": 1},
            },
            "truncated": false,
        }})
    );
    // From the start of time, the old send (to a, b, c; a and b have it) counts too.
    let r = overview(&s, &[("since", "0")]).await;
    assert_eq!(
        (r["data"]["since"].clone(), r["data"]["sends"].clone()),
        (
            json!(0),
            json!({"sends": 3, "recipients": 8, "delivered": 5, "read": 1,
                   "markRead": {"sends": 1, "recipients": 2, "delivered": 2, "read": 1}})
        )
    );
    let r = overview(&s, &[("since", &(today + 1).to_string())]).await;
    assert_eq!(r["data"]["sends"]["sends"], 0);

    for bad in ["-1", "yesterday"] {
        assert_eq!(
            overview(&s, &[("since", bad)]).await,
            json!({"code": 414, "desc": format!("since must be a non-negative integer: {bad:?}")})
        );
    }
    drop((a, b1, b2));
}
