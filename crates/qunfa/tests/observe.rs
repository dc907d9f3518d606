//! What an operator watches, through the real binary: `/metrics` moving by exactly what a
//! known sequence of calls and logins did, `/healthz` and `/readyz` (503 once the store is
//! gone, 200 with NATS away), JSON log lines with the access log, and metrics on a listener
//! of their own.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use qunfa_server::client::NimClient;
use serde_json::{Value, json};
use support::{Client, Nats, Opts, PgSchema, Serve, WAIT};

/// Every series of a scrape: `name{labels}` as rendered → value.
fn series(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_owned(), v.parse().ok()?))
        })
        .collect()
}

async fn get(url: &str) -> (u16, String) {
    qunfa_server::tls::install();
    let r = reqwest::get(url).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn scrape(base: &str) -> (String, HashMap<String, f64>) {
    let (status, body) = get(&format!("{base}/metrics")).await;
    assert_eq!(status, 200, "{body}");
    let s = series(&body);
    (body, s)
}

fn delta(before: &HashMap<String, f64>, after: &HashMap<String, f64>, key: &str) -> f64 {
    after.get(key).copied().unwrap_or(0.0) - before.get(key).copied().unwrap_or(0.0)
}

const CREDENTIAL_LINES: &[&str] = &[
    "Created the first app",
    "  AppKey:",
    "  AppSecret:",
    "For `qunfa call`",
    "  export QUNFA_URL=",
];

#[tokio::test(flavor = "multi_thread")]
async fn metrics_logs_and_health_follow_real_calls() {
    let dir = tempfile::tempdir().unwrap();
    let server = Serve::start(Opts {
        dir: dir.path().to_owned(),
        env: vec![("QUNFA_LOG__FORMAT".into(), "json".into())],
        ..Opts::default()
    });
    let (appkey, secret) = server.app.clone().unwrap();
    let nim = NimClient::new(&server.url, &appkey, &secret);
    let (_, before) = scrape(&server.url).await;

    // Three accounts made, one refused (414), one of them with NIM's RequestId header.
    for accid in ["a1", "a2"] {
        let r = nim
            .call("user/create", &[("accid", accid), ("token", "t")])
            .await
            .unwrap();
        assert_eq!(r["code"], 200, "{r}");
    }
    let r = nim.call("user/create", &[("name", "x")]).await.unwrap();
    assert_eq!(r, json!({"code": 414, "desc": "missing parameter: accid"}));
    let mut headers = nim.sign().to_vec();
    headers.push(("RequestId", "req-observe-1".into()));
    let r = nim
        .send(
            "user/create",
            &headers,
            "application/x-www-form-urlencoded",
            b"accid=a3".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(r["code"], 200, "{r}");
    // Two unknown paths: one label, `other`, never the path.
    qunfa_server::tls::install();
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/nimserver/no/such.action", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(
        get(&format!("{}/definitely/not/here", server.url)).await.0,
        404
    );

    // One login refused, one accepted, then one message delivered live.
    let ws = server.ws_url();
    let (mut wrong, _) = tokio_tungstenite::connect_async(&ws).await.unwrap();
    use futures_util::{SinkExt, StreamExt};
    let login =
        json!({"op": "login", "appkey": appkey, "accid": "a2", "token": "nope", "cursor": 0});
    wrong
        .send(tokio_tungstenite::tungstenite::Message::Text(
            login.to_string().into(),
        ))
        .await
        .unwrap();
    while let Some(Ok(m)) = wrong.next().await {
        if m.is_close() {
            break;
        }
    }
    let (mut c, caught_up) = Client::login(&ws, &appkey, "a2", "t", 0).await;
    assert!(caught_up.is_empty());
    let body = json!({"msg": "hi"}).to_string();
    let r = nim
        .call(
            "msg/sendMsg",
            &[
                ("from", "a1"),
                ("ope", "0"),
                ("to", "a2"),
                ("type", "0"),
                ("body", &body),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r["code"], 200, "{r}");
    let frame = c.next(WAIT).await.unwrap();
    assert_eq!(frame["op"], "msg", "{frame}");

    let (text, after) = scrape(&server.url).await;
    let d = |k: &str| delta(&before, &after, k);
    let req = |ep: &str, code: u16| {
        format!("qunfa_api_requests_total{{endpoint=\"{ep}\",code=\"{code}\"}}")
    };
    assert_eq!(d(&req("user/create", 200)), 3.0, "{text}");
    assert_eq!(d(&req("user/create", 414)), 1.0, "{text}");
    assert_eq!(d(&req("msg/sendMsg", 200)), 1.0, "{text}");
    assert_eq!(d(&req("other", 404)), 2.0, "{text}");
    let dur = |ep: &str| format!("qunfa_api_request_duration_seconds_count{{endpoint=\"{ep}\"}}");
    assert_eq!(d(&dur("user/create")), 4.0, "{text}");
    assert_eq!(d(&dur("other")), 2.0, "{text}");
    assert_eq!(
        d(r#"qunfa_gateway_logins_total{result="ok"}"#),
        1.0,
        "{text}"
    );
    assert_eq!(
        d(r#"qunfa_gateway_logins_total{result="wrong_token"}"#),
        1.0,
        "{text}"
    );
    assert_eq!(after["qunfa_gateway_sessions"], 1.0, "{text}");
    assert_eq!(d("qunfa_deliveries_total"), 1.0, "{text}");
    assert_eq!(d("qunfa_catchup_messages_count"), 1.0, "{text}");
    assert_eq!(d("qunfa_catchup_messages_sum"), 0.0, "{text}");
    assert_eq!(d("qunfa_gateway_slow_closes_total"), 0.0, "{text}");
    assert_eq!(after["qunfa_bus_connected"], 1.0, "{text}");
    assert_eq!(after["qunfa_callback_outbox_pending"], 0.0, "{text}");
    assert_eq!(after["qunfa_callback_failures_total"], 0.0, "{text}");
    assert!(
        d(r#"qunfa_store_commit_duration_seconds_count{backend="sqlite"}"#) >= 4.0,
        "{text}"
    );
    for name in [
        "qunfa_api_requests_total",
        "qunfa_api_request_duration_seconds",
        "qunfa_gateway_sessions",
        "qunfa_gateway_logins_total",
        "qunfa_deliveries_total",
        "qunfa_gateway_slow_closes_total",
        "qunfa_store_commit_duration_seconds",
        "qunfa_catchup_messages",
        "qunfa_bus_connected",
        "qunfa_callback_outbox_pending",
        "qunfa_callback_failures_total",
    ] {
        assert!(text.contains(&format!("# HELP {name} ")), "{name}:\n{text}");
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("qunfa_build_info{version=\"")),
        "{text}"
    );
    for private in ["no/such", "definitely", "\"a1\"", "\"a2\"", "req-observe"] {
        assert!(!text.contains(private), "{private} in:\n{text}");
    }

    // Health: the process answers; the store answers.
    assert_eq!(
        get(&format!("{}/healthz", server.url)).await,
        (200, "ok\n".into())
    );
    let (status, body) = get(&format!("{}/readyz", server.url)).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"status": "ready", "store": "ok", "bus": "in-process"})
    );

    // The log: one JSON object per line, with the access line of the RequestId call.
    let access = server.wait_line(|l| {
        let v: Value = serde_json::from_str(l).ok()?;
        (v["request_id"] == "req-observe-1").then_some(v)
    });
    let mut access = access.as_object().unwrap().clone();
    let ts = access.remove("ts").unwrap();
    let ms = access.remove("duration_ms").unwrap();
    let client = access.remove("client").unwrap();
    assert!(
        ts.as_str()
            .is_some_and(|t| t.ends_with('Z') && t.len() >= 20),
        "{ts}"
    );
    assert!(ms.as_f64().is_some_and(|ms| ms >= 0.0), "{ms}");
    assert!(
        client.as_str().is_some_and(|c| c.starts_with("127.0.0.1:")),
        "{client}"
    );
    assert_eq!(
        Value::Object(access),
        json!({"level": "info", "target": "qunfa::access", "msg": "api call",
               "endpoint": "user/create", "appkey": appkey, "code": 200, "request_id": "req-observe-1"})
    );
    let refused = server.wait_line(|l| {
        let v: Value = serde_json::from_str(l).ok()?;
        (v["msg"] == "login refused").then_some(v)
    });
    assert_eq!(
        (&refused["client"], &refused["code"]),
        (&json!("127.0.0.1"), &json!(302))
    );

    let lines = server.output.lock().unwrap().clone();
    let mut logged = Vec::new();
    for l in &lines {
        if CREDENTIAL_LINES.iter().any(|p| l.starts_with(p)) {
            continue;
        }
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        for k in ["ts", "level", "msg"] {
            assert!(v[k].is_string(), "{k} in {l}");
        }
        logged.push(v);
    }
    let start = logged
        .iter()
        .find(|v| v["msg"] == "qunfa starting")
        .unwrap();
    assert_eq!(start["version"], env!("CARGO_PKG_VERSION"));
    let commit = start["commit"].as_str().unwrap();
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
        "{commit}"
    );
    let migrations: Vec<&Value> = logged
        .iter()
        .filter(|v| v["msg"].as_str().is_some_and(|m| m.contains("migration")))
        .collect();
    assert_eq!(migrations.len(), 1, "{migrations:?}");
    assert_eq!(migrations[0]["msg"], "sqlite migrations applied");
    assert_eq!(migrations[0]["from"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_follows_the_store_and_reports_the_bus() {
    let dir = tempfile::tempdir().unwrap();
    let pg = PgSchema::new();
    let mut nats = Nats::start();
    let server = Serve::start(Opts {
        dir: dir.path().to_owned(),
        store: Some(pg.url()),
        bus: Some(nats.url()),
        env: vec![("QUNFA_BUS__PREFIX".into(), format!("ready{}", pg.name()))],
        ..Opts::default()
    });
    let readyz = format!("{}/readyz", server.url);
    let answer = |want_status: u16, want: Value| {
        let readyz = readyz.clone();
        async move {
            let deadline = Instant::now() + WAIT;
            loop {
                let (status, body) = get(&readyz).await;
                let got: Value = serde_json::from_str(&body).unwrap();
                if (status, &got) == (want_status, &want) {
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "{status} {got}, not {want_status} {want}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    answer(
        200,
        json!({"status": "ready", "store": "ok", "bus": "nats connected"}),
    )
    .await;

    // NATS away: still ready, since nodes reach each other by polling the store.
    nats.stop();
    let polling = "nats unreachable: reaching other nodes by polling the store every 1000 ms";
    answer(
        200,
        json!({"status": "ready", "store": "ok", "bus": polling}),
    )
    .await;
    let (_, m) = scrape(&server.url).await;
    assert_eq!(m["qunfa_bus_connected"], 0.0);

    // The store gone (its schema dropped): not ready, with the reason; the process still lives.
    let (client, conn) = tokio_postgres::connect(
        qunfa_store::testing::pg_base_url()
            .split('?')
            .next()
            .unwrap(),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(&format!("DROP SCHEMA \"{}\" CASCADE", pg.name()))
        .await
        .unwrap();
    let why = "the store refused a read (see the server log)";
    answer(
        503,
        json!({"status": "not ready", "store": why, "bus": polling}),
    )
    .await;
    assert_eq!(
        get(&format!("{}/healthz", server.url)).await,
        (200, "ok\n".into())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_on_a_listener_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let server = Serve::start(Opts {
        dir: dir.path().to_owned(),
        env: vec![("QUNFA_METRICS__LISTEN".into(), "127.0.0.1:0".into())],
        ..Opts::default()
    });
    let metrics = server.wait_line(|l| {
        l.contains("qunfa listening")
            .then(|| {
                l.split_whitespace()
                    .find_map(|w| w.strip_prefix("metrics="))
            })
            .flatten()
            .map(|a| format!("http://{a}"))
    });
    assert_ne!(metrics, server.url);
    let (status, body) = get(&format!("{}/metrics", server.url)).await;
    assert_eq!(status, 404, "{body}");
    let (body, m) = scrape(&metrics).await;
    assert_eq!(m["qunfa_gateway_sessions"], 0.0, "{body}");
    for base in [&server.url, &metrics] {
        assert_eq!(get(&format!("{base}/healthz")).await, (200, "ok\n".into()));
        assert_eq!(get(&format!("{base}/readyz")).await.0, 200);
    }
    assert_eq!(
        get(&format!("{metrics}/nimserver/user/create.action"))
            .await
            .0,
        404
    );
}
