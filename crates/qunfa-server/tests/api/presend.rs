//! 第三方回调: the app server asked before a client's send is stored, over a real receiver:
//! pass, block with its responseCode, a replaced body, and each failure (timeout, non-200, a
//! bad answer) under both policies. Server-API sends are never checked.

use std::time::Duration;

use qunfa_server::config::PreSendPolicy;
use serde_json::{Value, json};

use crate::callbacks::set_callback;
use crate::harness::TestServer;
use crate::receiver::{Receiver, Reply};
use crate::ws::Client;

async fn online(s: &TestServer, accid: &str) -> Client {
    let mut c = Client::connect(s).await;
    c.send(
        json!({"op": "login", "appkey": s.app.appkey, "accid": accid, "token": format!("t-{accid}"),
        "clientType": "AOS", "deviceId": "d-7"}),
    )
    .await;
    assert_eq!(c.next().await.unwrap()["code"], 200);
    c.until_synced().await;
    c
}

async fn users(s: &TestServer) {
    for a in ["a", "b"] {
        let t = format!("t-{a}");
        assert_eq!(
            s.call("user/create", &[("accid", a), ("token", &t)]).await["code"],
            200
        );
    }
}

async fn send(c: &mut Client, key: &str, text: &str) -> Value {
    c.send(
        json!({"op": "send", "ope": 0, "to": "b", "type": 0, "body": {"msg": text},
        "msgidClient": key}),
    )
    .await;
    // Its own `msg` frame (multi-device sync) may come first.
    loop {
        let f = c.next().await.unwrap();
        if f["op"] == "sent" {
            return f;
        }
    }
}

#[tokio::test]
async fn the_app_server_passes_blocks_and_rewrites_client_sends() {
    let s = TestServer::start().await;
    users(&s).await;
    let r = Receiver::start(&s.app.secret).await;
    set_callback(&s, &[("preSendUrl", &r.url)]).await;
    let mut a = online(&s, "a").await;
    let mut b = online(&s, "b").await;

    r.plan([Reply::json(r#"{"errCode":0}"#)]);
    let ok = send(&mut a, "c-1", "hello").await;
    assert_eq!((&ok["op"], &ok["code"]), (&json!("sent"), &json!(200)));
    let asked = &r.got()[0];
    assert!(asked.signed);
    assert_eq!(
        asked.json,
        json!({"attach": "", "body": "hello", "convType": "PERSON", "eventType": "1",
            "fromAccount": "a", "fromClientType": "AOS", "fromDeviceId": "d-7", "fromNick": "",
            "msgTimestamp": s.clock_ms().to_string(), "msgType": "TEXT", "msgidClient": "c-1",
            "resendFlag": "0", "to": "b"}),
        "the payload of the message about to be stored, without msgidServer"
    );
    assert_eq!(
        b.next().await.unwrap()["msg"]["body"],
        json!({"msg": "hello"})
    );

    r.plan([Reply::json(r#"{"errCode":1,"responseCode":20001}"#)]);
    assert_eq!(
        send(&mut a, "c-2", "no").await,
        json!({"op": "sent", "msgidClient": "c-2", "code": 403, "desc": "blocked by the app server",
            "responseCode": 20001})
    );
    r.plan([Reply::json(r#"{"errCode":1}"#)]);
    assert_eq!(
        send(&mut a, "c-3", "no").await,
        json!({"op": "sent", "msgidClient": "c-3", "code": 403, "desc": "blocked by the app server"})
    );

    r.plan([Reply::json(
        r#"{"errCode":0,"modifyResponse":{"body":{"msg":"***"}}}"#,
    )]);
    let rewritten = send(&mut a, "c-4", "bad word").await;
    assert_eq!(rewritten["code"], 200);
    let got = b.next().await.unwrap();
    assert_eq!(
        got["msg"]["body"],
        json!({"msg": "***"}),
        "what is stored and delivered"
    );
    assert_eq!(
        got["msg"]["msgidclient"], "c-4",
        "nothing blocked reached b in between"
    );
    r.plan([Reply::json(
        r#"{"errCode":0,"modifyResponse":"{\"body\":{\"text\":1}}"}"#,
    )]);
    assert_eq!(
        send(&mut a, "c-5", "x").await,
        json!({"op": "sent", "msgidClient": "c-5", "code": 414,
            "desc": "modifyResponse.body: body.msg must be a string for type 0"})
    );
    // Server-API sends are not checked.
    let before = r.got().len();
    let api = s
        .call(
            "msg/sendMsg",
            &[
                ("from", "a"),
                ("ope", "0"),
                ("to", "b"),
                ("type", "0"),
                ("body", r#"{"msg":"api"}"#),
            ],
        )
        .await;
    assert_eq!(api["code"], 200);
    assert_eq!(
        b.next().await.unwrap()["msg"]["body"],
        json!({"msg": "api"})
    );
    assert_eq!(r.got().len(), before);
}

#[tokio::test]
async fn failed_checks_pass_by_default() {
    let s = TestServer::with(|c| c.callbacks.pre_send_timeout_ms = 300).await;
    users(&s).await;
    let r = Receiver::start(&s.app.secret).await;
    set_callback(&s, &[("preSendUrl", &r.url)]).await;
    let mut a = online(&s, "a").await;
    r.plan([
        Reply::json(r#"{"errCode":1}"#).slow(1500),
        Reply::status(500),
        Reply::json("not json"),
        Reply::json(r#"{"errCode":"1"}"#),
    ]);
    for (i, why) in ["timeout", "HTTP 500", "not JSON", "errCode not an integer"]
        .iter()
        .enumerate()
    {
        let started = std::time::Instant::now();
        let ans = send(&mut a, &format!("k{i}"), "x").await;
        assert_eq!(ans["code"], 200, "{why}: {ans}");
        assert!(
            started.elapsed() < Duration::from_millis(1200),
            "{why}: one attempt, bounded"
        );
    }
}

#[tokio::test]
async fn failed_checks_block_when_told_to() {
    let s = TestServer::with(|c| {
        c.callbacks.pre_send_timeout_ms = 300;
        c.callbacks.pre_send_on_failure = PreSendPolicy::Block;
    })
    .await;
    users(&s).await;
    let r = Receiver::start(&s.app.secret).await;
    set_callback(&s, &[("preSendUrl", &r.url)]).await;
    let mut a = online(&s, "a").await;
    r.plan([
        Reply::json(r#"{"errCode":0}"#).slow(1500),
        Reply::status(502),
    ]);
    for key in ["slow", "502"] {
        assert_eq!(
            send(&mut a, key, "x").await,
            json!({"op": "sent", "msgidClient": key, "code": 403, "desc": "blocked by the app server"})
        );
    }
    r.plan([Reply::json(r#"{"errCode":0}"#)]);
    assert_eq!(send(&mut a, "fine", "x").await["code"], 200);
    assert_eq!(r.got().len(), 3, "one attempt each");
}
