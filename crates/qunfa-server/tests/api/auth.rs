//! Signature, CurTime window, replay (431), rate limits (416), disabled apps (403), tenants.

use std::sync::Arc;
use std::time::Duration;

use qunfa_core::auth::checksum;
use qunfa_core::clock::{Clock, ManualClock};
use qunfa_server::client::NimClient;
use serde_json::{Value, json};

use crate::harness::{TestServer, create_users};

const FORM: &str = "application/x-www-form-urlencoded;charset=utf-8";

fn headers(appkey: &str, nonce: &str, curtime: &str, sum: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AppKey", appkey.into()),
        ("Nonce", nonce.into()),
        ("CurTime", curtime.into()),
        ("CheckSum", sum.into()),
    ]
}

async fn send(s: &TestServer, h: &[(&str, String)], body: &str) -> Value {
    s.client
        .send("user/getUinfos", h, FORM, body.as_bytes().to_vec())
        .await
        .expect("answer")
}

fn now_s(s: &TestServer) -> i64 {
    s.clock.now_ms() / 1000
}

#[tokio::test]
async fn a_signed_call_succeeds_and_liveness_needs_no_auth() {
    let s = TestServer::start().await;
    assert_eq!(
        s.call("user/getUinfos", &[("accids", "[]")]).await,
        json!({"code": 200, "uinfos": []})
    );
    let r = s
        .client
        .send("health/liveness", &[], FORM, vec![])
        .await
        .unwrap();
    assert_eq!(r, json!({"code": 200}));
}

#[tokio::test]
async fn missing_or_malformed_headers_answer_414() {
    let s = TestServer::start().await;
    let key = s.app.appkey.clone();
    let ct = now_s(&s).to_string();
    let good = checksum(&s.app.secret, "n1", &ct);
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (vec![], "missing header: AppKey"),
        (headers("", "n", &ct, &good), "missing header: AppKey"),
        (
            vec![
                ("AppKey", key.clone()),
                ("CurTime", ct.clone()),
                ("CheckSum", good.clone()),
            ],
            "missing header: Nonce",
        ),
        (
            vec![
                ("AppKey", key.clone()),
                ("Nonce", "n1".into()),
                ("CheckSum", good.clone()),
            ],
            "missing header: CurTime",
        ),
        (
            vec![
                ("AppKey", key.clone()),
                ("Nonce", "n1".into()),
                ("CurTime", ct.clone()),
            ],
            "missing header: CheckSum",
        ),
        (
            headers(&key, "n1", "12ab", &good),
            "bad header: CurTime must be Unix time in seconds",
        ),
        (
            headers("0123456789abcdef0123456789abcdef", "n1", &ct, &good),
            "appkey",
        ),
        (headers(&key, "n1", &ct, &"0".repeat(40)), "checksum"),
        (headers(&key, "n2", &ct, &good), "checksum"),
    ];
    for (h, desc) in cases {
        assert_eq!(
            send(&s, &h, "accids=[]").await,
            json!({"code": 414, "desc": desc}),
            "{h:?}"
        );
    }
    // Upper-case hex is the same checksum.
    let r = send(
        &s,
        &headers(&key, "n1", &ct, &good.to_uppercase()),
        "accids=[]",
    )
    .await;
    assert_eq!(r, json!({"code": 200, "uinfos": []}));
}

#[tokio::test]
async fn nonce_may_have_128_characters_not_129() {
    let s = TestServer::start().await;
    let ct = now_s(&s).to_string();
    let n128 = "a".repeat(128);
    let n129 = "b".repeat(129);
    let ok = headers(
        &s.app.appkey,
        &n128,
        &ct,
        &checksum(&s.app.secret, &n128, &ct),
    );
    assert_eq!(send(&s, &ok, "accids=[]").await["code"], 200);
    let long = headers(
        &s.app.appkey,
        &n129,
        &ct,
        &checksum(&s.app.secret, &n129, &ct),
    );
    assert_eq!(
        send(&s, &long, "accids=[]").await,
        json!({"code": 414, "desc": "Nonce is longer than 128 characters"})
    );
}

#[tokio::test]
async fn curtime_is_accepted_within_300_seconds_either_way() {
    let s = TestServer::start().await;
    let skewed = |offset_s: i64| {
        let clock = ManualClock::new(s.clock.now_ms() + offset_s * 1000);
        NimClient::new(&s.base, &s.app.appkey, &s.app.secret).with_clock(Arc::new(clock))
    };
    // Pin the server clock to a whole second so the edges are exact.
    s.clock.set_ms(s.clock.now_ms() / 1000 * 1000);
    for offset in [-300, 300, 0, 299, -299] {
        let r = skewed(offset)
            .call("user/getUinfos", &[("accids", "[]")])
            .await
            .unwrap();
        assert_eq!(r, json!({"code": 200, "uinfos": []}), "offset {offset}");
    }
    for offset in [-301, 301, -100_000] {
        let r = skewed(offset)
            .call("user/getUinfos", &[("accids", "[]")])
            .await
            .unwrap();
        assert_eq!(
            r,
            json!({"code": 414, "desc": "CurTime is expired"}),
            "offset {offset}"
        );
    }
}

#[tokio::test]
async fn a_replayed_request_answers_431_and_changes_nothing() {
    let s = TestServer::start().await;
    let h = s.client.sign();
    let r = s
        .client
        .send("user/create", &h, FORM, b"accid=first".to_vec())
        .await
        .unwrap();
    assert_eq!(r["code"], 200);
    // Same AppKey, Nonce and CurTime with another body: refused, and "second" is not created.
    let r = s
        .client
        .send("user/create", &h, FORM, b"accid=second".to_vec())
        .await
        .unwrap();
    assert_eq!(r, json!({"code": 431, "desc": "repeated request"}));
    let r = s
        .call("user/getUinfos", &[("accids", r#"["first","second"]"#)])
        .await;
    assert_eq!(
        r,
        json!({"code": 200, "uinfos": [{"accid": "first", "gender": 0}]})
    );
    // Once the CurTime is out of the window the triple is stale instead.
    s.clock.advance_ms(301_000);
    let r = s
        .client
        .send("user/create", &h, FORM, b"accid=second".to_vec())
        .await
        .unwrap();
    assert_eq!(r, json!({"code": 414, "desc": "CurTime is expired"}));
}

/// `api.replay_check` in each of its spellings, read as the config layers read it (an
/// environment variable here), then a Nonce reused inside the same second through real signed
/// HTTP: `strict` refuses the second call and creates nothing; `log` and `off` accept both.
#[tokio::test]
async fn each_replay_check_mode_through_signed_calls() {
    use qunfa_core::replay::ReplayCheck;
    for (spelling, mode) in [
        ("true", ReplayCheck::Strict),
        ("strict", ReplayCheck::Strict),
        ("log", ReplayCheck::Log),
        ("false", ReplayCheck::Off),
        ("off", ReplayCheck::Off),
    ] {
        let env = [("QUNFA_API__REPLAY_CHECK".to_owned(), spelling.to_owned())].into();
        let loaded = qunfa_server::Config::load(None, &env, &[]).unwrap();
        assert_eq!(loaded.api.replay_check, mode, "{spelling}");
        let s = TestServer::with(|c| c.api.replay_check = loaded.api.replay_check).await;
        let h = s.client.sign();
        let mut answers = Vec::new();
        for accid in ["a1", "a2"] {
            let body = format!("accid={accid}").into_bytes();
            let r = s.client.send("user/create", &h, FORM, body).await.unwrap();
            answers.push(r["code"].clone());
        }
        let created = s
            .call("user/getUinfos", &[("accids", r#"["a1","a2"]"#)])
            .await;
        let accids: Vec<&str> = created["uinfos"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|u| u["accid"].as_str())
            .collect();
        if mode == ReplayCheck::Strict {
            assert_eq!(answers, [json!(200), json!(431)], "{spelling}");
            assert_eq!(accids, ["a1"], "{spelling}");
        } else {
            assert_eq!(answers, [json!(200), json!(200)], "{spelling}");
            assert_eq!(accids, ["a1", "a2"], "{spelling}");
        }
    }
    let env = [("QUNFA_API__REPLAY_CHECK".to_owned(), "warn".to_owned())].into();
    let err = qunfa_server::Config::load(None, &env, &[]).unwrap_err();
    let err = format!("{err:#}");
    assert!(
        err.contains("QUNFA_API__REPLAY_CHECK")
            && err.contains(r#"expected "strict", "log" or "off" (or true / false)"#),
        "{err}"
    );
}

/// In `log` mode a repeat inside the window is accepted even when its body differs (the
/// client reused a Nonce for another call), and it is a call like any other for the rate
/// limits: the third call in the second is refused 416.
#[tokio::test]
async fn log_mode_accepts_repeats_and_still_counts_rate_limits() {
    let s = TestServer::with(|c| {
        c.api.replay_check = qunfa_core::replay::ReplayCheck::Log;
        c.rate_limits.default.count = 2;
        c.rate_limits.default.per_secs = 1;
        c.rate_limits.default.penalty_secs = 1;
    })
    .await;
    s.clock.set_ms(s.clock.now_ms() / 1000 * 1000);
    let h = s.client.sign();
    let r = send(&s, &h, "accids=[]").await;
    assert_eq!(r, json!({"code": 200, "uinfos": []}));
    let r = send(&s, &h, r#"accids=["x"]"#).await;
    assert_eq!(r, json!({"code": 200, "uinfos": []}));
    let r = send(&s, &h, "accids=[]").await;
    assert_eq!(r, json!({"code": 416, "desc": "too many requests: user"}));
}

#[tokio::test]
async fn over_the_rate_limit_answers_416_for_the_penalty_then_recovers() {
    let s = TestServer::with(|c| {
        c.rate_limits.default.count = 3;
        c.rate_limits.default.per_secs = 1;
        c.rate_limits.default.penalty_secs = 10;
    })
    .await;
    s.clock.set_ms(s.clock.now_ms() / 1000 * 1000);
    let uinfos = || s.call("user/getUinfos", &[("accids", "[]")]);
    for _ in 0..3 {
        assert_eq!(uinfos().await["code"], 200);
    }
    let limited = json!({"code": 416, "desc": "too many requests: user"});
    assert_eq!(uinfos().await, limited);
    // A refused call has no effect, even inside the same group.
    assert_eq!(s.call("user/create", &[("accid", "late")]).await, limited);
    // Other groups and other apps keep their own counters.
    assert_eq!(s.call("dic/listAreas", &[]).await["code"], 200);
    let (_, other) = s.new_app("other").await;
    assert_eq!(
        other
            .call("user/getUinfos", &[("accids", "[]")])
            .await
            .unwrap()["code"],
        200
    );
    // The penalty outlasts the 1 s window…
    s.clock.advance_ms(5_000);
    assert_eq!(uinfos().await, limited);
    // …and ends after 10 s.
    s.clock.advance_ms(5_001);
    assert_eq!(uinfos().await["code"], 200);
    assert_eq!(
        s.call("user/getUinfos", &[("accids", r#"["late"]"#)]).await,
        json!({"code": 200, "uinfos": []})
    );
}

#[tokio::test]
async fn apps_created_or_disabled_elsewhere_take_effect_without_a_restart() {
    let s = TestServer::start().await;
    // What `qunfa app …` does: its own connection to the same database file.
    let cli = s.open_store_again().await;
    let fresh = cli.create_app("made by the cli").await.unwrap();
    let c = s.client_for(&fresh);
    assert_eq!(
        c.call("user/getUinfos", &[("accids", "[]")]).await.unwrap()["code"],
        200
    );

    cli.set_app_disabled(&fresh.appkey, true).await.unwrap();
    let forbidden = json!({"code": 403, "desc": "app is forbidden"});
    let mut last = Value::Null;
    for _ in 0..100 {
        last = c.call("user/getUinfos", &[("accids", "[]")]).await.unwrap();
        if last == forbidden {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(last, forbidden);
    // A disabled app's bad signature is still a 414: 403 is only said to the key's holder.
    let bad = NimClient::new(&s.base, &fresh.appkey, "wrong secret");
    assert_eq!(
        bad.call("user/getUinfos", &[("accids", "[]")])
            .await
            .unwrap(),
        json!({"code": 414, "desc": "checksum"})
    );
}

#[tokio::test]
async fn one_apps_keys_never_reach_another_apps_data() {
    let s = TestServer::start().await;
    let (_, b) = s.new_app("b").await;
    create_users(&s, &["alice"]).await;
    assert_eq!(
        s.call("dic/createArea", &[("areaid", "37"), ("name", "Shandong")])
            .await["code"],
        200
    );

    let r = b
        .call("user/getUinfos", &[("accids", r#"["alice"]"#)])
        .await
        .unwrap();
    assert_eq!(r, json!({"code": 200, "uinfos": []}));
    let r = b
        .call("user/updateUinfo", &[("accid", "alice"), ("name", "x")])
        .await
        .unwrap();
    assert_eq!(r, json!({"code": 414, "desc": "alice not register"}));
    let r = b.call("dic/listAreas", &[]).await.unwrap();
    assert_eq!(r, json!({"code": 200, "data": {"areas": []}}));
    let r = b.call("dic/deleteArea", &[("areaid", "37")]).await.unwrap();
    assert_eq!(r, json!({"code": 404, "desc": "areaid 37 not found"}));
    let r = b
        .call("user/create", &[("accid", "bob"), ("areaid", "37")])
        .await
        .unwrap();
    assert_eq!(r, json!({"code": 414, "desc": "unknown areaid: 37"}));
    // The same accid is free in app b.
    assert_eq!(
        b.call("user/create", &[("accid", "alice")]).await.unwrap()["code"],
        200
    );
    let r = s
        .call("user/getUinfos", &[("accids", r#"["alice"]"#)])
        .await;
    assert_eq!(
        r,
        json!({"code": 200, "uinfos": [{"accid": "alice", "gender": 0}]})
    );
}
