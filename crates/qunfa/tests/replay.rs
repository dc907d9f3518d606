//! `api.replay_check = "log"` as an operator sets it (`QUNFA_API__REPLAY_CHECK=log` on a real
//! `qunfa serve`): a client that signs two different calls with the same Nonce in the same
//! second gets both done, and the server's log says which app reused a Nonce on which endpoint.
//! The default stays strict: the same pair of calls answers 431 the second time.

#![allow(clippy::unwrap_used)]

mod support;

use qunfa_core::auth::checksum;
use serde_json::{Value, json};
use support::{Opts, Serve};

async fn create(s: &Serve, headers: &[(&str, String)], accid: &str) -> Value {
    let (key, _) = s.app.clone().unwrap();
    qunfa_server::tls::install();
    let mut req = reqwest::Client::new()
        .post(format!("{}/nimserver/user/create.action", s.url))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("AppKey", key)
        .body(format!("accid={accid}"));
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    req.send().await.unwrap().json().await.unwrap()
}

/// One Nonce, CurTime and CheckSum, as a client that reuses its Nonce sends them.
fn reused(s: &Serve) -> Vec<(&'static str, String)> {
    let (_, secret) = s.app.clone().unwrap();
    let curtime = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs())
    .to_string();
    let nonce = "1234".to_owned();
    let sum = checksum(&secret, &nonce, &curtime);
    vec![("Nonce", nonce), ("CurTime", curtime), ("CheckSum", sum)]
}

#[tokio::test]
async fn log_mode_accepts_a_reused_nonce_and_says_so_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let s = Serve::start(Opts {
        dir: dir.path().to_owned(),
        env: vec![("QUNFA_API__REPLAY_CHECK".into(), "log".into())],
        ..Opts::default()
    });
    let h = reused(&s);
    assert_eq!(
        create(&s, &h, "first").await["info"]["accid"],
        json!("first")
    );
    assert_eq!(
        create(&s, &h, "second").await["info"]["accid"],
        json!("second")
    );
    let (key, _) = s.app.clone().unwrap();
    let deadline = std::time::Instant::now() + support::WAIT;
    loop {
        let warned: Vec<String> = s
            .output
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains("repeated request accepted"))
            .cloned()
            .collect();
        if let Some(line) = warned.first() {
            assert_eq!(warned.len(), 1, "one warning per repeat: {warned:?}");
            for field in [
                "WARN",
                &format!("appkey={key}"),
                "endpoint=\"user/create\"",
                "nonce=1234",
            ] {
                assert!(line.contains(field), "{field} missing from {line}");
            }
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no warning logged");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    let strict_dir = tempfile::tempdir().unwrap();
    let strict = Serve::start(Opts {
        dir: strict_dir.path().to_owned(),
        ..Opts::default()
    });
    let h = reused(&strict);
    assert_eq!(create(&strict, &h, "first").await["code"], 200);
    assert_eq!(
        create(&strict, &h, "second").await,
        json!({"code": 431, "desc": "repeated request"})
    );
}
