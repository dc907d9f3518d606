//! The traps of a new operator's first hour, each driven through the real binary: a port in
//! use on the first start, `qunfa call --data-dir` reaching that deployment's port, and
//! `qunfa watch` riding out a server restart.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use qunfa_server::client::NimClient;
use serde_json::{Value, json};
use support::{BIN, Opts, Serve, WAIT, free_port};

/// A `qunfa` command in `cwd`, without the outer environment's `QUNFA_*` variables.
fn qunfa(cwd: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("QUNFA_") {
            cmd.env_remove(&key);
        }
    }
    cmd.current_dir(cwd)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Runs a command to its end, within WAIT.
fn run(cmd: &mut Command) -> Output {
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + WAIT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{cmd:?} did not finish within {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_port_in_use_stops_the_first_start_before_it_creates_an_app() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");

    // (Without NO_COLOR: the log is not coloured anyway, stderr being a pipe.)
    let out = run(qunfa(dir.path())
        .args(["serve", "--listen", &listen])
        .env_remove("NO_COLOR"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("INFO qunfa::cmd::serve: qunfa starting version="),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !text(&out.stderr).contains('\u{1b}'),
        "{:?}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout), "", "no credentials printed for an app");
    assert!(
        text(&out.stderr).contains(&format!("error: binding {listen} (listen)")),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !dir.path().join("qunfa-data").exists(),
        "nothing was created: the listener is bound before the store is opened"
    );

    // Once the port is free, the first start creates the app and prints its credentials.
    drop(taken);
    let server = Serve::start(Opts {
        dir: dir.path().to_owned(),
        listen: Some(listen.clone()),
        ..Opts::default()
    });
    let (appkey, secret) = server.app.clone().expect("the first start prints the app");
    assert_eq!(server.url, format!("http://{listen}"));
    let out = run(qunfa(dir.path()).args(["app", "list", "--json"]));
    let apps: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(apps.as_array().map(Vec::len), Some(1), "{apps}");
    assert_eq!(
        (&apps[0]["appkey"], &apps[0]["secret"]),
        (&json!(appkey), &json!(secret))
    );

    // A later start prints no secret, but says where to find it.
    drop(server);
    let again = Serve::start(Opts {
        dir: dir.path().to_owned(),
        ..Opts::default()
    });
    assert_eq!(again.app, None);
    again.wait_line(|l| {
        l.contains("`qunfa app list` shows the apps' AppKeys and AppSecrets")
            .then_some(())
    });
}

#[test]
fn call_with_a_data_dir_calls_the_port_that_deployment_listens_on() {
    let dir = tempfile::tempdir().unwrap();
    let server = Serve::start(Opts {
        dir: dir.path().to_owned(),
        ..Opts::default()
    });
    let addr = server.url.trim_start_matches("http://").to_owned();
    let data = dir.path().join("qunfa-data");
    assert_eq!(
        std::fs::read_to_string(data.join("serve.addr")).unwrap(),
        format!("{addr}\n")
    );
    assert!(!addr.ends_with(":8080"), "a random port, not the default");

    // From anywhere else, with only --data-dir: that deployment's port and its first app.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = run(qunfa(elsewhere.path()).args([
        "call",
        "--data-dir",
        data.to_str().unwrap(),
        "dic/createEnterptype",
        "enterptypeid=9",
        "name=物流",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        answer,
        json!({"code": 200, "data": {"enterptypeid": "9", "name": "物流"}})
    );
    assert!(!elsewhere.path().join("qunfa-data").exists());
}

/// Lines a child prints on stdout, in order, until one `pick` accepts (within WAIT).
fn wait_for(lines: &Receiver<String>, seen: &mut Vec<String>, pick: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + WAIT;
    loop {
        match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(l) => {
                let hit = pick(&l);
                seen.push(l);
                if hit {
                    return;
                }
            }
            Err(e) => panic!("{e}: not seen; output so far:\n{}", seen.join("\n")),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_reconnects_after_a_server_restart() {
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let opts = Opts {
        dir: dir.path().to_owned(),
        listen: Some(listen.clone()),
        ..Opts::default()
    };
    let mut server = Serve::start(opts.clone());
    let (appkey, secret) = server.app.clone().unwrap();
    let nim = NimClient::new(&server.url, &appkey, &secret);
    for (accid, token) in [("sender", "s1"), ("watcher", "w1")] {
        let r = nim
            .call("user/create", &[("accid", accid), ("token", token)])
            .await
            .unwrap();
        assert_eq!(r["code"], 200, "{r}");
    }
    let send = |text: &'static str| {
        let nim = nim.clone();
        async move {
            let body = json!({"msg": text}).to_string();
            let r = nim
                .call(
                    "msg/sendMsg",
                    &[
                        ("from", "sender"),
                        ("ope", "0"),
                        ("to", "watcher"),
                        ("type", "0"),
                        ("body", &body),
                    ],
                )
                .await
                .unwrap();
            assert_eq!(r["code"], 200, "{r}");
        }
    };

    let mut watch = qunfa(dir.path())
        .args(["watch", "watcher", "--token", "w1", "--count", "2"])
        .env("QUNFA_URL", &server.url)
        .env("QUNFA_APPKEY", &appkey)
        .env("QUNFA_APPSECRET", &secret)
        .spawn()
        .unwrap();
    let lines = support::output_lines(&mut watch);
    let mut seen = Vec::new();
    wait_for(&lines, &mut seen, |l| l.contains(r#""op":"synced""#));
    send("one").await;
    wait_for(&lines, &mut seen, |l| l.contains(r#"{"msg":"one"}"#));

    // The server goes away (1001) and comes back on the same port: watch says so and resumes.
    server.stop();
    wait_for(&lines, &mut seen, |l| {
        l.starts_with("connection closed: 1001 server going away; reconnecting in ")
    });
    server = Serve::start(opts);
    let mut reconnected = false;
    for _ in 0..200 {
        if seen
            .iter()
            .filter(|l| l.contains(r#""op":"synced""#))
            .count()
            >= 2
        {
            reconnected = true;
            break;
        }
        if let Ok(l) = lines.recv_timeout(Duration::from_millis(100)) {
            seen.push(l);
        }
    }
    assert!(reconnected, "{}", seen.join("\n"));
    send("two").await;
    wait_for(&lines, &mut seen, |l| l.contains(r#"{"msg":"two"}"#));
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(s) = watch.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "watch did not stop after 2 messages"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}\n{}", seen.join("\n"));
    // Each message once: the second login resumed after the first message.
    let msgs: Vec<&String> = seen
        .iter()
        .filter(|l| l.contains(r#""op":"msg""#))
        .collect();
    assert_eq!(msgs.len(), 2, "{}", seen.join("\n"));
    drop(server);
}
