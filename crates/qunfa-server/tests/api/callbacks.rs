//! 抄送 (message copy) over real HTTP to a real receiver that checks MD5 and CheckSum as a NIM
//! customer does: every kind of stored message, recalls, logins and logouts; msgid order;
//! retries with backoff; dead letters listed and resent; events pending over a restart; an app
//! without a URL gets (and writes) nothing.

use std::time::Duration;

use qunfa_server::Config;
use serde_json::{Value, json};

use crate::harness::{TestServer, create_users};
use crate::receiver::{Receiver, Reply};

/// Retries 100 ms, 200 ms, 400 ms; four attempts; looked for every 20 ms.
pub fn fast(c: &mut Config) {
    c.callbacks.poll_ms = 20;
    c.callbacks.backoff_initial_ms = 100;
    c.callbacks.backoff_max_ms = 400;
    c.callbacks.max_attempts = 4;
    c.callbacks.timeout_ms = 2000;
}

/// Waits until `pred` holds, moving the server's clock 100 ms on every 20 ms so retries come
/// due (the deliverer schedules them on the server's clock).
pub async fn until(s: &TestServer, what: &str, pred: impl Fn() -> bool) {
    for _ in 0..500 {
        if pred() {
            return;
        }
        s.clock.advance_ms(100);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

pub async fn set_callback(s: &TestServer, params: &[(&str, &str)]) -> Value {
    let r = s.call("app/setCallback", params).await;
    assert_eq!(r["code"], 200, "{r}");
    r
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

/// Checks what every request must carry, and answers the payloads.
fn checked(r: &Receiver, s: &TestServer) -> Vec<Value> {
    for g in r.got() {
        assert!(g.signed, "MD5 and CheckSum verify: {g:?}");
        assert_eq!(g.appkey, s.app.appkey);
        assert_eq!(g.content_type, "application/json; charset=utf-8");
        assert!(
            g.curtime > 1_000_000_000_000,
            "CurTime in ms: {}",
            g.curtime
        );
        let o = g.json.as_object().expect("a JSON object");
        assert!(
            o.values().all(Value::is_string),
            "every value a string: {o:?}"
        );
    }
    r.delivered()
}

fn event_id(v: &Value) -> i64 {
    v["eventId"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn messages_are_copied_signed_in_msgid_order() {
    let s = TestServer::with(fast).await;
    create_users(&s, &["a", "b", "c"]).await;
    let r = Receiver::start(&s.app.secret).await;
    let answer = s.call("app/setCallback", &[("url", &r.url)]).await;
    assert_eq!(
        answer,
        json!({"code": 200, "info": {"url": r.url, "events": "messages,recalls,logins", "preSendUrl": ""}})
    );
    let first = p2p(&s, "a", "b", "hello").await;
    let t0 = s.clock_ms();
    let mut ids = vec![first];
    for i in 0..4 {
        ids.push(p2p(&s, "b", "c", &format!("n{i}")).await);
    }
    let picture = json!({"name": "p.png", "url": "https://x/p.png", "w": 10, "h": 20}).to_string();
    let pic = s
        .call(
            "msg/sendMsg",
            &[
                ("from", "c"),
                ("ope", "0"),
                ("to", "a"),
                ("type", "1"),
                ("body", &picture),
                ("ext", "e1"),
                ("msgidclient", "k-9"),
            ],
        )
        .await["data"]["msgid"]
        .as_i64()
        .unwrap();
    ids.push(pic);
    until(&s, "six copies", || r.delivered().len() == 6).await;
    let got = checked(&r, &s);
    let order: Vec<i64> = got
        .iter()
        .map(|v| v["msgidServer"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(order, ids, "one app's events go out in msgid order");
    assert!(got.windows(2).all(|w| event_id(&w[0]) < event_id(&w[1])));
    assert_eq!(
        got[0],
        json!({"attach": "", "body": "hello", "convType": "PERSON", "eventId": got[0]["eventId"],
            "eventType": "1", "fromAccount": "a", "fromClientType": "REST", "fromDeviceId": "",
            "fromNick": "", "msgTimestamp": t0.to_string(), "msgType": "TEXT", "msgidClient": "",
            "msgidServer": first.to_string(), "resendFlag": "0", "to": "b"})
    );
    assert_eq!(
        got[5],
        json!({"attach": picture, "body": "", "convType": "PERSON", "eventId": got[5]["eventId"],
            "eventType": "1", "ext": "e1", "fromAccount": "c", "fromClientType": "REST",
            "fromDeviceId": "", "fromNick": "", "msgTimestamp": got[5]["msgTimestamp"],
            "msgType": "PICTURE", "msgidClient": "k-9", "msgidServer": pic.to_string(),
            "resendFlag": "0", "to": "a"})
    );
    // The receiver's 200 is recorded before the deliverer removes the event.
    let mut info = Value::Null;
    for _ in 0..250 {
        info = s.call("app/getCallback", &[]).await;
        if info["info"]["pending"] == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        info,
        json!({"code": 200, "info": {"url": r.url, "events": "messages,recalls,logins",
            "preSendUrl": "", "pending": 0, "dead": 0, "nextTime": null}})
    );
}

#[tokio::test]
async fn failures_are_retried_with_backoff_without_holding_back_later_events() {
    let s = TestServer::with(fast).await;
    create_users(&s, &["a", "b"]).await;
    let r = Receiver::start(&s.app.secret).await;
    set_callback(&s, &[("url", &r.url)]).await;
    // The first event's first two attempts fail (500, then a reply too slow for the timeout
    // would be the same: any non-200), the third succeeds.
    r.plan([Reply::status(500), Reply::status(503)]);
    let m1 = p2p(&s, "a", "b", "one").await;
    until(&s, "two failures", || r.got().len() == 2).await;
    // The clock stands still: the first event waits for its third attempt, the second goes.
    let m2 = p2p(&s, "a", "b", "two").await;
    for _ in 0..250 {
        if r.delivered().len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(r.delivered().len(), 1, "the second event went out alone");
    until(&s, "both delivered", || r.delivered().len() == 2).await;
    let all = r.got();
    let m1s = m1.to_string();
    let tries: Vec<&crate::receiver::Got> = all
        .iter()
        .filter(|g| g.json["msgidServer"] == m1s.as_str())
        .collect();
    assert_eq!(
        tries.iter().map(|g| g.answered).collect::<Vec<_>>(),
        [500, 503, 200]
    );
    assert!(
        tries.iter().all(|g| g.json == tries[0].json),
        "every attempt sends the same body (same eventId and msgidServer)"
    );
    let gaps: Vec<i64> = tries
        .windows(2)
        .map(|w| w[1].curtime - w[0].curtime)
        .collect();
    assert!(
        gaps[0] >= 100 && gaps[1] >= 200,
        "backoff doubles: {gaps:?}"
    );
    let delivered: Vec<String> = r
        .delivered()
        .iter()
        .map(|v| v["msgidServer"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        delivered,
        [m2.to_string(), m1.to_string()],
        "the event in backoff did not hold back the next one"
    );
    checked(&r, &s);
}

#[tokio::test]
async fn every_kind_of_message_and_recall_is_copied() {
    let s = TestServer::with(fast).await;
    create_users(&s, &["a", "b", "c"]).await;
    let r = Receiver::start(&s.app.secret).await;
    set_callback(&s, &[("url", &r.url)]).await;
    let m = p2p(&s, "a", "b", "to recall").await;
    let recall = s
        .call(
            "msg/recall",
            &[
                ("deleteMsgid", &m.to_string()),
                ("timetag", "0"),
                ("type", "7"),
                ("from", "a"),
                ("to", "b"),
                ("msg", "oops"),
                ("attach", "a1"),
            ],
        )
        .await;
    assert_eq!(recall, json!({"code": 200}));
    let mass = s
        .call(
            "msg/sendMsgToAll",
            &[
                ("type", "0"),
                ("body", r#"{"msg":"to some"}"#),
                ("toAccids", r#"["b","c"]"#),
            ],
        )
        .await;
    let mass_id = mass["data"]["msgid"].as_i64().unwrap();
    assert_eq!(
        s.call("msg/recallMassMsg", &[("msgid", &mass_id.to_string())])
            .await,
        json!({"code": 200})
    );
    let b = s
        .call(
            "msg/broadcastMsg",
            &[("body", "maintenance"), ("targetOs", r#"["ios"]"#)],
        )
        .await;
    let bid = b["msg"]["broadcastId"].as_i64().unwrap();
    let tid = crate::team::team(&s, "a", &["b"], &[]).await;
    let ts = tid.to_string();
    let tm = s
        .call(
            "msg/sendMsg",
            &[
                ("from", "b"),
                ("ope", "1"),
                ("to", &ts),
                ("type", "0"),
                ("body", r#"{"msg":"in team"}"#),
            ],
        )
        .await["data"]["msgid"]
        .as_i64()
        .unwrap();
    assert_eq!(
        s.call(
            "msg/recall",
            &[
                ("deleteMsgid", &tm.to_string()),
                ("timetag", "0"),
                ("type", "8"),
                ("from", "b"),
                ("to", &ts)
            ],
        )
        .await,
        json!({"code": 200})
    );
    until(&s, "eight copies", || r.delivered().len() == 8).await;
    let got = checked(&r, &s);
    let kinds: Vec<(&str, &str)> = got
        .iter()
        .map(|v| {
            (
                v["eventType"].as_str().unwrap(),
                v["convType"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(kinds, kinds_expected());
    let p2p_recall = &got[1];
    assert_eq!(
        *p2p_recall,
        json!({"attach": "a1", "convType": "PERSON", "deleteMsgid": m.to_string(),
            "eventId": p2p_recall["eventId"], "eventType": "7", "fromAccount": "a",
            "msg": "oops", "msgTimestamp": p2p_recall["msgTimestamp"],
            "msgidServer": p2p_recall["msgidServer"], "timetag": got[0]["msgTimestamp"], "to": "b"})
    );
    let mass_copy = &got[2];
    assert_eq!(mass_copy["to"], "");
    assert_eq!(mass_copy["recipients"], "2");
    assert_eq!(mass_copy["fromAccount"], "qunfa.system");
    assert_eq!(mass_copy["body"], "to some");
    let selection: Value = serde_json::from_str(mass_copy["selection"].as_str().unwrap()).unwrap();
    assert_eq!(
        selection,
        json!({"areaid": [], "enterptypeid": [], "list": 2, "tids": []})
    );
    assert_eq!(got[3]["deleteMsgid"], mass_id.to_string());
    assert_eq!(got[3]["to"], "");
    let bc = &got[4];
    assert_eq!(
        (
            &bc["msgidServer"],
            &bc["body"],
            &bc["msgType"],
            &bc["isOffline"],
            &bc["targetOs"]
        ),
        (
            &json!(bid.to_string()),
            &json!("maintenance"),
            &json!("TEXT"),
            &json!("false"),
            &json!(r#"["ios"]"#)
        )
    );
    // The team's creation notification, with the members involved.
    assert_eq!(got[5]["msgType"], "NOTIFICATION");
    assert_eq!(got[5]["to"], ts);
    assert_eq!(got[5]["tMembers"], r#"["b"]"#);
    assert_eq!(
        (&got[6]["body"], &got[6]["to"], &got[6]["msgidServer"]),
        (&json!("in team"), &json!(ts), &json!(tm.to_string()))
    );
    assert_eq!(
        (
            &got[7]["eventType"],
            &got[7]["convType"],
            &got[7]["to"],
            &got[7]["deleteMsgid"]
        ),
        (
            &json!("8"),
            &json!("TEAM"),
            &json!(ts),
            &json!(tm.to_string())
        )
    );
}

fn kinds_expected() -> Vec<(&'static str, &'static str)> {
    vec![
        ("1", "PERSON"),
        ("7", "PERSON"),
        ("1", "MASS"),
        ("7", "MASS"),
        ("1", "BROADCAST"),
        ("1", "TEAM"),
        ("1", "TEAM"),
        ("8", "TEAM"),
    ]
}
