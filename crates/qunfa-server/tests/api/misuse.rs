//! The gateway tried as a careless or hostile client would: first frames that are not logins,
//! frames over the size limit, a cursor from another life of the data directory, token
//! guessing, and a client too slow for its messages.

use std::time::Duration;

use serde_json::json;

use crate::harness::TestServer;
use crate::ws::{Client, End};

async fn user(s: &TestServer, accid: &str) -> String {
    let token = format!("token-of-{accid}");
    let r = s
        .call("user/create", &[("accid", accid), ("token", &token)])
        .await;
    assert_eq!(r["code"], 200, "{r}");
    token
}

#[tokio::test]
async fn a_first_frame_that_is_not_a_login_closes_1008() {
    let s = TestServer::start().await;
    for first in [
        "not json",
        "[1,2]",
        r#"{"appkey":"x"}"#,
        r#"{"op":"ack","cursor":1}"#,
    ] {
        let mut c = Client::connect(&s).await;
        c.send_text(first).await;
        assert_eq!(c.until_end().await, (vec![], End::Closed(1008)), "{first}");
    }
    // A login frame with a field missing is a login refused: the answer says why, then 4001.
    let mut c = Client::connect(&s).await;
    c.send(json!({"op": "login", "appkey": s.app.appkey, "accid": "a"}))
        .await;
    let (frames, end) = c.until_end().await;
    assert_eq!(
        frames,
        [json!({"op": "login", "code": 414, "desc": "bad login: missing field `token`"})]
    );
    assert_eq!(end, End::Closed(4001));
}

#[tokio::test]
async fn a_frame_over_the_limit_closes_1009() {
    let s = TestServer::with(|c| c.gateway.max_frame_bytes = 1024).await;
    let mut c = Client::connect(&s).await;
    c.send_text(&"x".repeat(2000)).await;
    assert_eq!(c.until_end().await, (vec![], End::Closed(1009)));
    // After the login too.
    let token = user(&s, "a").await;
    let mut c = Client::connect(&s).await;
    assert_eq!(c.login(&s.app.appkey, "a", &token, 0).await["code"], 200);
    assert_eq!(c.next().await.unwrap()["op"], "synced");
    c.send(json!({"op": "read", "msgids": vec![1; 600]})).await;
    assert_eq!(c.until_end().await, (vec![], End::Closed(1009)));
}

async fn send_p2p(s: &TestServer) -> i64 {
    let body = json!({"msg": "hi"}).to_string();
    s.call(
        "msg/sendMsg",
        &[
            ("from", "b"),
            ("ope", "0"),
            ("to", "a"),
            ("type", "0"),
            ("body", &body),
        ],
    )
    .await["data"]["msgid"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn a_cursor_from_another_life_is_reset_and_live_messages_follow() {
    let s = TestServer::start().await;
    let token = user(&s, "a").await;
    user(&s, "b").await;
    let first = send_p2p(&s).await;
    // The client kept a cursor far above anything this store holds.
    let mut c = Client::connect(&s).await;
    let answer = c.login(&s.app.appkey, "a", &token, first + 1_000_000).await;
    assert_eq!(answer["code"], 200, "{answer}");
    assert_eq!(
        (answer["reset"].clone(), answer["cursor"].clone()),
        (json!(true), json!(first))
    );
    assert_eq!(c.until_synced().await, (vec![], first));
    let next = send_p2p(&s).await;
    assert_eq!(
        c.next().await.unwrap()["msg"]["msgid"],
        next,
        "live messages reach it"
    );
    // A cursor within the store is answered as it was, without `reset`.
    let mut d = Client::connect(&s).await;
    let answer = d.login(&s.app.appkey, "a", &token, first).await;
    assert_eq!(answer["cursor"], first);
    assert!(answer.get("reset").is_none(), "{answer}");
}

#[tokio::test]
async fn guessing_tokens_closes_the_door_for_a_while() {
    let s = TestServer::with(|c| {
        c.gateway.login_max_failures = 3;
        c.gateway.login_max_failures_per_address = 6;
        c.gateway.login_window_secs = 60;
    })
    .await;
    let token = user(&s, "a").await;
    let login = |accid: &'static str, token: String| {
        let s = &s;
        async move {
            let mut c = Client::connect(s).await;
            let answer = c.login(&s.app.appkey, accid, &token, 0).await;
            (answer["code"].as_u64().unwrap(), answer["desc"].clone())
        }
    };
    for _ in 0..3 {
        assert_eq!(login("a", "guess".into()).await.0, 302);
    }
    // The right token too, until the window passes.
    let (code, desc) = login("a", token.clone()).await;
    assert_eq!(
        (code, desc),
        (416, json!("too many failed logins: retry in 60 s"))
    );
    s.clock.advance_ms(30_000);
    assert_eq!(
        login("a", token.clone()).await,
        (416, json!("too many failed logins: retry in 30 s"))
    );
    s.clock.advance_ms(30_000);
    assert_eq!(login("a", token.clone()).await.0, 200);
    // From one address, guesses over many accounts count together.
    let other = user(&s, "b").await;
    for accid in ["x1", "x2", "x3", "x4", "x5", "x6"] {
        assert_eq!(login(accid, "guess".into()).await.0, 302);
    }
    assert_eq!(login("b", other.clone()).await.0, 416);
    s.clock.advance_ms(60_000);
    assert_eq!(login("b", other).await.0, 200);
}

/// Behind a reverse proxy every connection comes from the proxy: with it in
/// `api.trusted_proxies`, the address it forwards is what login throttling counts, so one
/// client's guesses do not lock out everybody else behind the same proxy. A client that is not
/// a trusted proxy cannot pick its own address with the header.
#[tokio::test]
async fn login_throttling_counts_the_client_a_trusted_proxy_forwards() {
    async fn login(s: &TestServer, xff: &str, accid: &str, token: &str) -> u64 {
        let mut c = Client::connect_forwarded(s, xff).await;
        let answer = c.login(&s.app.appkey, accid, token, 0).await;
        answer["code"].as_u64().unwrap()
    }
    for trusted in [true, false] {
        let s = TestServer::with(|c| {
            c.gateway.login_max_failures = 100;
            c.gateway.login_max_failures_per_address = 3;
            c.gateway.login_window_secs = 60;
            if trusted {
                c.api.trusted_proxies = vec!["127.0.0.0/8".into()];
            }
        })
        .await;
        let token = user(&s, "a").await;
        for accid in ["x1", "x2", "x3"] {
            assert_eq!(login(&s, "198.51.100.1", accid, "guess").await, 302);
        }
        assert_eq!(login(&s, "198.51.100.1", "a", &token).await, 416);
        // Another client behind the same proxy: its own address when the proxy is trusted;
        // the proxy's (which failed three times) when it is not.
        let other = login(&s, "6.6.6.6, 198.51.100.2", "a", &token).await;
        assert_eq!(other, if trusted { 200 } else { 416 }, "trusted: {trusted}");
    }
}

/// A client that reads 50 frames a second while thousands of messages go out: it gets what
/// was already on its way, then close 4008, and nothing after it (it used to see the
/// connection dropped, 1006, behind megabytes in the kernel).
#[tokio::test]
async fn a_slow_reader_is_told_4008_and_nothing_after_it() {
    let s = TestServer::with(|c| {
        c.rate_limits.enabled = false;
        c.gateway.queue_frames = 64;
        c.gateway.send_buffer_bytes = 8 * 1024;
        c.gateway.write_buffer_bytes = 8 * 1024;
    })
    .await;
    let token = user(&s, "slow").await;
    user(&s, "a").await;
    let mut slow = Client::connect_small_window(&s).await;
    assert_eq!(
        slow.login(&s.app.appkey, "slow", &token, 0).await["code"],
        200
    );
    assert_eq!(slow.next().await.unwrap()["op"], "synced");
    let body = json!({"msg": "群".repeat(100)}).to_string();
    let sender = {
        let client = s.client.clone();
        tokio::spawn(async move {
            for _ in 0..2000 {
                let r = client
                    .call(
                        "msg/sendMsgToAll",
                        &[("from", "a"), ("type", "0"), ("body", &body)],
                    )
                    .await
                    .unwrap();
                assert_eq!(r["code"], 200, "{r}");
            }
        })
    };
    let (frames, end) = slow.slowly_until_end(Duration::from_millis(20)).await;
    sender.await.unwrap();
    assert_eq!(end, End::Closed(4008), "after {} frames", frames.len());
    assert!(
        frames.len() < 2000,
        "it fell behind: {} frames",
        frames.len()
    );
    assert!(frames.iter().all(|f| f["op"] == "msg"));
}
