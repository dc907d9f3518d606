//! The outbox over time: dead letters listed and resent, events pending across a restart,
//! gateway logins and logouts, apps without a URL (nothing written), and the admin endpoints'
//! refusals.

use serde_json::{Value, json};

use crate::callbacks::{fast, set_callback, until};
use crate::harness::{TestServer, create_users};
use crate::receiver::{Receiver, Reply};
use crate::ws::Client;

fn event_id(v: &Value) -> i64 {
    v["eventId"].as_str().unwrap().parse().unwrap()
}

/// `app/getCallback` once the outbox is empty (or after 5 s, for the caller to assert on).
async fn drained(s: &TestServer) -> Value {
    let mut info = Value::Null;
    for _ in 0..250 {
        info = s.call("app/getCallback", &[]).await;
        if info["info"]["pending"] == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    info
}

async fn text(s: &TestServer, from: &str, to: &str, t: &str) -> i64 {
    let body = json!({ "msg": t }).to_string();
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

#[tokio::test]
async fn dead_letters_are_listed_and_resent() {
    let s = TestServer::with(fast).await;
    create_users(&s, &["a", "b"]).await;
    let r = Receiver::start(&s.app.secret).await;
    r.answer(Reply::status(500));
    set_callback(&s, &[("url", &r.url), ("events", "msg")]).await;
    let m = text(&s, "a", "b", "lost?").await;
    let dead = || async { s.call("app/getCallback", &[]).await["info"]["dead"].clone() };
    until(&s, "four attempts", || r.got().len() == 4).await;
    let mut info = Value::Null;
    for _ in 0..100 {
        info = dead().await;
        if info == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(info, 1, "a dead letter after callbacks.max_attempts");
    let list = s.call("app/listDeadCallbacks", &[]).await;
    let e = &list["list"][0];
    let id = e["eventId"].as_i64().unwrap();
    let body: Value = serde_json::from_str(e["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        body,
        r.got()[0].json,
        "listed with the body it is sent with"
    );
    assert_eq!(
        list,
        json!({"code": 200, "size": 1, "list": [{"eventId": id, "eventType": "1", "msgid": m,
            "attempts": 4, "createTime": e["createTime"], "lastError": "HTTP 500", "body": e["body"]}]})
    );
    assert_eq!(
        s.call("app/listDeadCallbacks", &[("after", &id.to_string())])
            .await,
        json!({"code": 200, "size": 0, "list": []})
    );
    // No more attempts once dead.
    let before = r.got().len();
    for _ in 0..10 {
        s.clock.advance_ms(1000);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(r.got().len(), before);

    r.answer(Reply::status(200));
    assert_eq!(
        s.call("app/resendCallbacks", &[("ids", &format!("[{id}]"))])
            .await,
        json!({"code": 200, "resent": 1})
    );
    until(&s, "the resent event", || r.delivered().len() == 1).await;
    assert_eq!(
        r.delivered()[0],
        body,
        "the same event: receivers drop repeats by eventId"
    );
    let info = drained(&s).await;
    assert_eq!(
        (&info["info"]["pending"], &info["info"]["dead"]),
        (&json!(0), &json!(0))
    );
    assert_eq!(
        s.call("app/resendCallbacks", &[]).await,
        json!({"code": 200, "resent": 0})
    );
}

#[tokio::test]
async fn admin_endpoints_refuse_bad_parameters_and_change_nothing() {
    let s = TestServer::start().await;
    let bad = [
        (vec![], "give at least one of url, events, preSendUrl"),
        (
            vec![("url", "ftp://h/x")],
            "url must be an http:// or https:// URL: \"ftp://h/x\"",
        ),
        (
            vec![("url", "http://h/x"), ("events", "msg,likes")],
            "events: \"likes\" is not one of messages, recalls, logins, all, none",
        ),
        (
            vec![("preSendUrl", "h/check")],
            "preSendUrl must be an http:// or https:// URL: \"h/check\"",
        ),
    ];
    for (params, desc) in bad {
        assert_eq!(
            s.call("app/setCallback", &params).await,
            json!({"code": 414, "desc": desc}),
            "{params:?}"
        );
    }
    let info = s.call("app/getCallback", &[]).await;
    assert_eq!(
        info,
        json!({"code": 200, "info": {"url": "", "events": "messages,recalls,logins", "preSendUrl": "",
            "pending": 0, "dead": 0, "nextTime": null}})
    );
    for (ids, desc) in [
        ("x", "ids must be a JSON array of eventIds (numbers)"),
        ("[]", "ids must be a JSON array of eventIds (numbers)"),
        ("[\"1\"]", "ids must be a JSON array of eventIds (numbers)"),
    ] {
        assert_eq!(
            s.call("app/resendCallbacks", &[("ids", ids)]).await,
            json!({"code": 414, "desc": desc})
        );
    }
    assert_eq!(
        s.call("app/listDeadCallbacks", &[("limit", "1001")]).await["code"],
        414
    );
    // Switched on, then off with an empty url.
    set_callback(
        &s,
        &[("url", "http://127.0.0.1:9/cb"), ("events", "recall")],
    )
    .await;
    let off = set_callback(&s, &[("url", "")]).await;
    assert_eq!(
        off,
        json!({"code": 200, "info": {"url": "", "events": "recalls", "preSendUrl": ""}})
    );
}

#[tokio::test]
async fn an_app_without_a_url_gets_and_writes_nothing() {
    let s = TestServer::with(fast).await;
    let (other, oc) = s.new_app("other").await;
    create_users(&s, &["a", "b"]).await;
    for a in ["a", "b"] {
        assert_eq!(
            oc.call("user/create", &[("accid", a)]).await.unwrap()["code"],
            200
        );
    }
    let r = Receiver::start(&s.app.secret).await;
    // Copies logins only: messages are not written to the outbox either.
    set_callback(&s, &[("url", &r.url), ("events", "logins")]).await;
    text(&s, "a", "b", "not copied").await;
    let body = r#"{"msg":"other app"}"#;
    let sent = oc
        .call(
            "msg/sendMsg",
            &[
                ("from", "a"),
                ("ope", "0"),
                ("to", "b"),
                ("type", "0"),
                ("body", body),
            ],
        )
        .await
        .unwrap();
    assert_eq!(sent["code"], 200);
    let store = &s.state().services.store;
    assert_eq!(
        store.callback_totals().await.unwrap(),
        (0, 0),
        "no outbox row at all"
    );
    assert_eq!(store.callback_summary(other.id).await.unwrap().pending, 0);
    for _ in 0..10 {
        s.clock.advance_ms(100);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(r.got().is_empty());
}

#[tokio::test]
async fn pending_events_go_out_after_a_restart() {
    let mut s = TestServer::with(fast).await;
    create_users(&s, &["a", "b"]).await;
    let r = Receiver::start(&s.app.secret).await;
    r.answer(Reply::status(503));
    set_callback(&s, &[("url", &r.url)]).await;
    let ids = [
        text(&s, "a", "b", "1").await,
        text(&s, "a", "b", "2").await,
        text(&s, "b", "a", "3").await,
    ];
    until(&s, "first attempts", || r.got().len() >= 3).await;
    s.restart().await;
    r.answer(Reply::status(200));
    until(&s, "all three after the restart", || {
        r.delivered().len() == 3
    })
    .await;
    let mut got: Vec<i64> = r
        .delivered()
        .iter()
        .map(|v| v["msgidServer"].as_str().unwrap().parse().unwrap())
        .collect();
    got.sort();
    assert_eq!(got, ids);
    for d in r.delivered() {
        let before = r
            .got()
            .into_iter()
            .find(|g| g.answered == 503 && g.json["msgidServer"] == d["msgidServer"])
            .unwrap();
        assert_eq!(before.json, d, "the same event, eventId included");
    }
    let info = drained(&s).await;
    assert_eq!(info["info"]["pending"], 0, "{info}");
}

#[tokio::test]
async fn gateway_logins_and_logouts_are_copied_with_the_client() {
    let s = TestServer::with(fast).await;
    let token = "tok-a";
    assert_eq!(
        s.call("user/create", &[("accid", "a"), ("token", token)])
            .await["code"],
        200
    );
    create_users(&s, &["b"]).await;
    let r = Receiver::start(&s.app.secret).await;
    set_callback(&s, &[("url", &r.url)]).await;

    let mut bad = Client::connect(&s).await;
    bad.send(
        json!({"op": "login", "appkey": s.app.appkey, "accid": "a", "token": token,
        "clientType": "FRIDGE"}),
    )
    .await;
    assert_eq!(
        bad.next().await.unwrap(),
        json!({"op": "login", "code": 414,
            "desc": "bad login: clientType must be one of AOS, IOS, PC, WINPHONE, WEB, MAC, REST: \"FRIDGE\""})
    );
    let mut c = Client::connect(&s).await;
    c.send(
        json!({"op": "login", "appkey": s.app.appkey, "accid": "a", "token": token,
        "clientType": "IOS", "deviceId": "dev-1", "sdkVersion": "9.1"}),
    )
    .await;
    assert_eq!(c.next().await.unwrap()["code"], 200);
    c.until_synced().await;
    let login_at = s.clock_ms();
    // A message it sends carries its client too.
    c.send(
        json!({"op": "send", "ope": 0, "to": "b", "type": 0, "body": {"msg": "from ios"},
        "msgidClient": "c-1"}),
    )
    .await;
    let sent = loop {
        let f = c.next().await.unwrap();
        if f["op"] == "sent" {
            break f;
        }
    };
    assert_eq!(sent["code"], 200, "{sent}");
    until(&s, "the login and the message", || r.delivered().len() == 2).await;
    drop(c);
    until(&s, "the logout", || r.delivered().len() == 3).await;
    let got = r.delivered();
    let of = |t: &str| got.iter().find(|v| v["eventType"] == t).unwrap().clone();
    let (login, msg) = (
        of("2"),
        got.iter().find(|v| v["eventType"] == "1").unwrap().clone(),
    );
    assert_eq!(
        login,
        json!({"accid": "a", "clientIp": "127.0.0.1", "clientType": "IOS", "code": "200",
            "deviceId": "dev-1", "eventId": login["eventId"], "eventType": "2", "sdkVersion": "9.1",
            "timestamp": login_at.to_string()})
    );
    assert_eq!(
        (
            &msg["fromClientType"],
            &msg["fromDeviceId"],
            &msg["msgidClient"]
        ),
        (&json!("IOS"), &json!("dev-1"), &json!("c-1"))
    );
    assert_eq!(got[2]["eventType"], "3", "the logout comes last");
    assert_eq!(got[2]["accid"], "a");
    assert_eq!(got[2]["clientType"], "IOS");
    assert!(event_id(&got[2]) > event_id(&login));
    assert!(r.got().iter().all(|g| g.signed));
}
