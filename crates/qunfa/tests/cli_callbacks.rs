//! `qunfa app update` and `qunfa app callbacks` beside a running server: settings written to
//! the store and picked up by the server, the outbox shown, dead letters resent, bad input
//! refused with the flag's name.

#![allow(clippy::unwrap_used)]

mod support;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use qunfa_server::client::NimClient;
use serde_json::{Value, json};
use support::{BIN, Opts, Serve};

fn qunfa(dir: &std::path::Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("QUNFA_") {
            cmd.env_remove(&key);
        }
    }
    cmd.current_dir(dir).env("NO_COLOR", "1").args(args);
    cmd.output().unwrap()
}

fn json_out(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_update_and_callbacks_while_serving() {
    let dir = tempfile::tempdir().unwrap();
    let server = Serve::start(Opts {
        dir: dir.path().to_owned(),
        env: vec![
            ("QUNFA_API__APP_REFRESH_MS".into(), "100".into()),
            ("QUNFA_CALLBACKS__POLL_MS".into(), "20".into()),
            ("QUNFA_CALLBACKS__BACKOFF_INITIAL_MS".into(), "10".into()),
            ("QUNFA_CALLBACKS__BACKOFF_MAX_MS".into(), "20".into()),
            ("QUNFA_CALLBACKS__MAX_ATTEMPTS".into(), "2".into()),
        ],
        ..Opts::default()
    });
    let (key, secret) = server.app.clone().unwrap();
    let nim = NimClient::new(&server.url, &key, &secret);
    // Nothing listens on this port: every attempt fails at once.
    let port = support::free_port();
    let url = format!("http://127.0.0.1:{port}/cb");
    let d = dir.path();
    let set = json_out(&qunfa(
        d,
        &[
            "app",
            "update",
            &key,
            "--callback-url",
            &url,
            "--callback-events",
            "msg",
            "--json",
        ],
    ));
    assert_eq!(
        set,
        json!({"appkey": key, "callback_url": url, "callback_events": "messages", "pre_send_url": ""})
    );
    let bad = qunfa(d, &["app", "update", &key, "--callback-url", "nope"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("--callback-url must be an http:// or https:// URL: \"nope\""),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    // The server picks the change up within api.app_refresh_ms (100 ms here).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = nim.call("app/getCallback", &[]).await.unwrap();
        if info["info"]["url"] == url.as_str() {
            break;
        }
        assert!(Instant::now() < deadline, "{info}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for a in ["a", "b"] {
        assert_eq!(
            nim.call("user/create", &[("accid", a)]).await.unwrap()["code"],
            200
        );
    }
    let r = nim
        .call(
            "msg/sendMsg",
            &[
                ("from", "a"),
                ("ope", "0"),
                ("to", "b"),
                ("type", "0"),
                ("body", r#"{"msg":"hi"}"#),
            ],
        )
        .await
        .unwrap();
    let msgid = r["data"]["msgid"].as_i64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let shown = loop {
        let v = json_out(&qunfa(d, &["app", "callbacks", &key, "--json"]));
        if v["dead"] == 1 {
            break v;
        }
        assert!(Instant::now() < deadline, "{v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let letter = &shown["dead_letters"][0];
    assert_eq!(
        (
            &letter["msgid"],
            &letter["attempts"],
            &letter["event_type"],
            &shown["pending"]
        ),
        (&json!(msgid), &json!(2), &json!("1"), &json!(0))
    );
    assert!(
        letter["last_error"]
            .as_str()
            .unwrap()
            .starts_with("cannot connect"),
        "{letter}"
    );
    let text = String::from_utf8(qunfa(d, &["app", "callbacks", &key]).stdout).unwrap();
    assert!(
        text.contains("dead letters:    1") && text.contains("--resend"),
        "{text}"
    );
    let id = letter["event_id"].as_i64().unwrap().to_string();
    assert_eq!(
        json_out(&qunfa(
            d,
            &["app", "callbacks", &key, "--resend", &id, "--json"]
        )),
        json!({"resent": 1})
    );
    // It fails again (still nothing listening) and is a dead letter once more.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = json_out(&qunfa(d, &["app", "callbacks", &key, "--json"]));
        if v["dead"] == 1 && v["dead_letters"][0]["attempts"] == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "{v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        json_out(&qunfa(d, &["app", "callbacks", &key, "--resend", "--json"])),
        json!({"resent": 1})
    );
    drop(server);
}
