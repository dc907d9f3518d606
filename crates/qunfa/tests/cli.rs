//! The `qunfa` binary driven the way a user drives it, following the README's quick start: a
//! real `qunfa serve --listen 127.0.0.1:0` in a fresh directory (data in `./qunfa-data` there),
//! and `qunfa import|call|app|config` run beside it as separate processes.
//!
//! Every child process runs without the outer environment's `QUNFA_*` variables, and every wait
//! is bounded, so a hang fails the test instead of blocking it.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_qunfa");
const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../samples");
/// How long `qunfa serve` may take to print its listen line.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long any client command may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a change made by `qunfa app …` may take to reach the running server
/// (`api.app_refresh_ms` is 1 s by default).
const APP_REFRESH_TIMEOUT: Duration = Duration::from_secs(5);

fn sample(name: &str) -> PathBuf {
    Path::new(SAMPLES).join(name)
}

fn tempdir() -> TempDir {
    tempfile::tempdir().expect("creating a temp dir")
}

/// A `qunfa` command run in `cwd`, without any `QUNFA_*` variable of the outer environment.
fn qunfa(cwd: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(cwd)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("QUNFA_") {
            cmd.env_remove(&key);
        }
    }
    cmd
}

fn kill(pid: u32, signal: &str) -> std::io::Result<ExitStatus> {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
}

/// Runs a command to completion with captured output; fails the test after COMMAND_TIMEOUT.
fn run(cmd: &mut Command) -> Output {
    let what = format!("{cmd:?}");
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {what}: {e}"));
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(COMMAND_TIMEOUT) {
        Ok(out) => out.unwrap_or_else(|e| panic!("waiting for {what}: {e}")),
        Err(_) => {
            let _ = kill(pid, "KILL");
            panic!("{what} did not finish within {COMMAND_TIMEOUT:?}");
        }
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts the command exited 0 and answers its stdout.
fn success(out: &Output) -> String {
    assert!(
        out.status.success(),
        "expected success, got {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

/// `qunfa call`'s output: its exit code and the JSON answer it printed.
fn answer(out: &Output) -> (Option<i32>, Value) {
    let text = stdout(out);
    let value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "the answer is not JSON ({e})\nstdout:\n{text}\nstderr:\n{}",
            stderr(out)
        )
    });
    (out.status.code(), value)
}

fn is_hex32(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A running `qunfa serve`, killed when dropped.
struct Server {
    child: Child,
    /// `127.0.0.1:PORT`, as the server logged it.
    addr: String,
    /// AppKey and AppSecret of the app created on a first start (not printed on later ones).
    first_app: Option<(String, String)>,
    /// The server's stdout and stderr, line by line, ANSI escapes removed.
    lines: Receiver<String>,
    log: Vec<String>,
}

impl Server {
    fn start(dir: &Path) -> Server {
        Self::start_on(dir, "127.0.0.1:0")
    }

    fn start_on(dir: &Path, listen: &str) -> Server {
        let mut child = qunfa(dir)
            .args(["serve", "--listen", listen])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning qunfa serve");
        // Reads stdout (the credentials) and stderr (the log) for the server's whole life.
        let rx = support::output_lines(&mut child);
        let mut server = Server {
            child,
            addr: String::new(),
            first_app: None,
            lines: rx,
            log: Vec::new(),
        };
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let (mut key, mut secret) = (None, None);
        let mut later = false;
        loop {
            let line = match server
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) => line,
                Err(RecvTimeoutError::Timeout) => panic!(
                    "qunfa serve did not log its listen address within {STARTUP_TIMEOUT:?}; stdout:\n{}",
                    server.log.join("\n")
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "qunfa serve exited before listening ({:?}); stdout:\n{}",
                    server.child.wait(),
                    server.log.join("\n")
                ),
            };
            server.log.push(line.clone());
            let trimmed = line.trim();
            if let Some(v) = trimmed.strip_prefix("AppKey:") {
                key = Some(v.trim().to_owned());
            } else if let Some(v) = trimmed.strip_prefix("AppSecret:") {
                secret = Some(v.trim().to_owned());
            } else if let Some(addr) = support::listen_addr(&line) {
                server.addr = addr;
            } else if line.contains(support::NOT_FIRST_START) {
                later = true;
            }
            // Credentials come on stdout, the listen line on stderr: wait for both.
            if !server.addr.is_empty() && (later || secret.is_some()) {
                break;
            }
        }
        assert!(
            server.addr.starts_with("127.0.0.1:") && !server.addr.ends_with(":0"),
            "{}",
            server.addr
        );
        server.first_app = match (key, secret) {
            (Some(k), Some(s)) => Some((k, s)),
            (None, None) => None,
            other => panic!("only one of AppKey and AppSecret printed: {other:?}"),
        };
        server
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A client using the first app's credentials from QUNFA_* variables.
    fn client(&self, cwd: &Path) -> Client {
        let (appkey, secret) = self
            .first_app
            .clone()
            .expect("a first start prints the first app");
        Client {
            cwd: cwd.to_owned(),
            url: self.url(),
            appkey,
            secret,
        }
    }

    /// Waits for the server to exit by itself; fails the test after `timeout`.
    fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("polling qunfa serve") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "qunfa serve still running after {timeout:?}"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// The rest of stdout, once the server has exited.
    fn rest_of_log(&mut self) -> Vec<String> {
        while let Ok(line) = self.lines.recv_timeout(STARTUP_TIMEOUT) {
            self.log.push(line);
        }
        self.log.clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Client commands with QUNFA_URL, QUNFA_APPKEY and QUNFA_APPSECRET set, run in `cwd`.
struct Client {
    cwd: PathBuf,
    url: String,
    appkey: String,
    secret: String,
}

impl Client {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = qunfa(&self.cwd);
        cmd.args(args)
            .env("QUNFA_URL", &self.url)
            .env("QUNFA_APPKEY", &self.appkey)
            .env("QUNFA_APPSECRET", &self.secret);
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        run(&mut self.cmd(args))
    }

    /// `qunfa call ENDPOINT PARAMS…`: exit code and answer.
    fn call(&self, endpoint: &str, params: &[&str]) -> (Option<i32>, Value) {
        let mut args = vec!["call", endpoint];
        args.extend_from_slice(params);
        answer(&self.run(&args))
    }

    /// Calls until the answer is `want` (exit code and JSON); fails after `timeout`.
    fn call_until(&self, endpoint: &str, want: &(Option<i32>, Value), timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.call(endpoint, &[]);
            if &got == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "after {timeout:?} {endpoint} still answers {got:?}, not {want:?}"
            );
            thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A CSV sample's data rows, each split on commas (the samples quote nothing).
fn csv_rows(name: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(sample(name)).expect("reading a sample");
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let split = |l: &str| {
        l.split(',')
            .map(|f| f.trim().to_owned())
            .collect::<Vec<_>>()
    };
    let header = split(lines.next().expect("a header line"));
    (header, lines.map(split).collect())
}

fn sorted_by(mut list: Vec<Value>, key: &str) -> Vec<Value> {
    list.sort_by(|a, b| a[key].as_str().cmp(&b[key].as_str()));
    list
}

const UINFOS_ARG: &str = r#"accids=["appregisterid_demo","yucx_test_10400"]"#;

/// What `user/getUinfos` answers for UINFOS_ARG once samples/users.csv is imported.
fn uinfos_answer() -> Value {
    json!({
        "code": 200,
        "uinfos": [
            {"accid": "appregisterid_demo", "name": "演示账号", "areaid": "370100", "enterptypeid": "1", "gender": 1},
            {"accid": "yucx_test_10400", "name": "青岛餐饮店", "areaid": "370202", "enterptypeid": "2", "gender": 2},
        ]
    })
}

/// `imported N rows in X s (Y rows/s): SUMMARY` with the timing left out.
fn import_summary(stdout: &str) -> (u64, String) {
    let first = stdout.lines().next().unwrap_or_default();
    let rest = first
        .strip_prefix("imported ")
        .unwrap_or_else(|| panic!("not an import summary: {first:?}"));
    let (rows, rest) = rest
        .split_once(" rows in ")
        .unwrap_or_else(|| panic!("not an import summary: {first:?}"));
    let (_, summary) = rest
        .split_once("): ")
        .unwrap_or_else(|| panic!("not an import summary: {first:?}"));
    (rows.parse().expect("a row count"), summary.to_owned())
}

/// The one progress mark in `DIR/qunfa-data/imports/`: its path and content.
fn import_mark(dir: &Path) -> (PathBuf, Value) {
    let marks: Vec<PathBuf> = std::fs::read_dir(dir.join("qunfa-data/imports"))
        .expect("the data dir's imports/")
        .map(|e| e.expect("a dir entry").path())
        .collect();
    assert_eq!(marks.len(), 1, "{marks:?}");
    let text = std::fs::read_to_string(&marks[0]).expect("the progress mark");
    let v = serde_json::from_str(&text).expect("the progress mark is JSON");
    (marks[0].clone(), v)
}

/// The README's quick start, checked step by step. Answers the tokens file's text.
fn quick_start(dir: &Path, client: &Client) -> String {
    // The dictionaries.
    let (_, areas) = csv_rows("areas.csv");
    let out = client.run(&[
        "import",
        "areas",
        sample("areas.csv").to_str().expect("utf-8 path"),
    ]);
    assert_eq!(
        success(&out),
        format!("areas: {} created, 0 updated\n", areas.len())
    );
    let expected: Vec<Value> = areas
        .iter()
        .map(|r| match r[2].as_str() {
            "" => json!({"areaid": r[0], "name": r[1]}),
            parent => json!({"areaid": r[0], "name": r[1], "parentid": parent}),
        })
        .collect();
    let (code, mut got) = client.call("dic/listAreas", &[]);
    assert_eq!(code, Some(0));
    let listed = sorted_by(
        got["data"]["areas"]
            .take()
            .as_array()
            .cloned()
            .unwrap_or_default(),
        "areaid",
    );
    assert_eq!(got, json!({"code": 200, "data": {"areas": null}}));
    assert_eq!(listed, sorted_by(expected, "areaid"));

    let (_, types) = csv_rows("enterptypes.csv");
    let out = client.run(&[
        "import",
        "enterptypes",
        sample("enterptypes.csv").to_str().expect("utf-8 path"),
    ]);
    assert_eq!(
        success(&out),
        format!("enterprise types: {} created, 0 updated\n", types.len())
    );
    let expected: Vec<Value> = types
        .iter()
        .map(|r| json!({"enterptypeid": r[0], "name": r[1]}))
        .collect();
    let (code, mut got) = client.call("dic/listEnterptypes", &[]);
    assert_eq!(code, Some(0));
    let listed = sorted_by(
        got["data"]["enterptypes"]
            .take()
            .as_array()
            .cloned()
            .unwrap_or_default(),
        "enterptypeid",
    );
    assert_eq!(got, json!({"code": 200, "data": {"enterptypes": null}}));
    assert_eq!(listed, sorted_by(expected, "enterptypeid"));

    // One account by hand: the answer carries the generated token.
    let (code, mut got) = client.call(
        "user/create",
        &[
            "accid=zhangsan",
            "name=张三",
            "areaid=370102",
            "enterptypeid=1",
        ],
    );
    assert_eq!(code, Some(0), "{got}");
    let token = got["info"]["token"].take();
    assert!(
        token.as_str().is_some_and(is_hex32),
        "generated token {token}"
    );
    assert_eq!(
        got,
        json!({"code": 200, "info": {"accid": "zhangsan", "name": "张三", "token": null}})
    );

    // A few more from a CSV copied beside the data (import writes its files next to it).
    std::fs::create_dir_all(dir.join("samples")).expect("mkdir samples");
    std::fs::copy(sample("users.csv"), dir.join("samples/users.csv")).expect("copying users.csv");
    let (header, users) = csv_rows("users.csv");
    let out = client.run(&["import", "users", "samples/users.csv"]);
    let text = success(&out);
    assert_eq!(
        import_summary(&text),
        (
            users.len() as u64,
            format!("{} created, 0 already existed, 0 failed", users.len())
        )
    );
    assert_eq!(
        text.lines().nth(1),
        Some("3 rows had no token; the tokens qunfa generated are in samples/users.csv.tokens.csv"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 2, "{text}");
    // The progress mark is the data dir's, keyed by the app and the file's content.
    let (mark, mut progress) = import_mark(dir);
    let sha = progress["sha256"].take();
    assert!(
        sha.as_str()
            .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit())),
        "{sha}"
    );
    let csv_path = dir.join("samples/users.csv");
    assert_eq!(
        progress,
        json!({"file": csv_path.display().to_string(), "appkey": client.appkey, "sha256": null, "rows_done": users.len()})
    );
    let name = mark
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    assert!(
        name.starts_with(&format!("users-{}-", client.appkey)) && name.ends_with(".json"),
        "{name}"
    );
    assert!(
        !dir.join("samples/users.csv.progress").exists(),
        "nothing is kept beside the CSV but the tokens and errors"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("samples/users.csv.errors.csv")).expect("errors file"),
        ""
    );

    // Tokens were generated exactly for the rows without one, each a fresh 32-hex string.
    let tokens =
        std::fs::read_to_string(dir.join("samples/users.csv.tokens.csv")).expect("tokens file");
    let token_col = header
        .iter()
        .position(|h| h == "token")
        .expect("users.csv has a token column");
    let want_rows: Vec<(String, String)> = users
        .iter()
        .enumerate()
        .filter(|(_, r)| r[token_col].is_empty())
        .map(|(i, r)| ((i + 1).to_string(), r[0].to_ascii_lowercase()))
        .collect();
    assert!(
        !want_rows.is_empty() && want_rows.len() < users.len(),
        "the sample mixes rows with and without tokens"
    );
    let mut lines = tokens.lines();
    assert_eq!(lines.next(), Some("row,accid,token"), "{tokens}");
    let got_rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(got_rows.len(), want_rows.len(), "{tokens}");
    let mut seen = std::collections::HashSet::new();
    for (got, (row, accid)) in got_rows.iter().zip(&want_rows) {
        assert_eq!(got.len(), 3, "{tokens}");
        assert_eq!((got[0], got[1]), (row.as_str(), accid.as_str()), "{tokens}");
        assert!(is_hex32(got[2]), "token {:?}", got[2]);
        assert!(seen.insert(got[2]), "token {:?} generated twice", got[2]);
    }

    // Read them back, the account created by hand included.
    let (code, got) = client.call("user/getUinfos", &[UINFOS_ARG]);
    assert_eq!((code, got), (Some(0), uinfos_answer()));
    let (code, got) = client.call(
        "user/getUinfos",
        &[r#"accids=["zhangsan","531c506e48a340e5bff7eb72c6504250","zibo_shop"]"#],
    );
    let want = json!({"code": 200, "uinfos": [
        {"accid": "zhangsan", "name": "张三", "areaid": "370102", "enterptypeid": "1", "gender": 0},
        {"accid": "531c506e48a340e5bff7eb72c6504250", "name": "得利斯采购部", "areaid": "370102", "enterptypeid": "1", "gender": 0},
        {"accid": "zibo_shop", "name": "淄博零售", "areaid": "370300", "enterptypeid": "3", "gender": 0},
    ]});
    assert_eq!((code, got), (Some(0), want));
    tokens
}

#[test]
fn quick_start_from_the_readme() {
    let dir = tempdir();
    let server = Server::start(dir.path());
    let (appkey, secret) = server
        .first_app
        .clone()
        .expect("a first start prints the first app");
    assert!(
        is_hex32(&appkey) && is_hex32(&secret) && appkey != secret,
        "{appkey} {secret}"
    );
    let client = server.client(dir.path());
    quick_start(dir.path(), &client);

    // Without credentials, from the directory holding ./qunfa-data: the first app is used.
    let out =
        run(qunfa(dir.path()).args(["call", "user/getUinfos", UINFOS_ARG, "--url", &server.url()]));
    assert_eq!(answer(&out), (Some(0), uinfos_answer()));

    // Without credentials anywhere else: a clear error, not a call.
    let elsewhere = tempdir();
    let out = run(qunfa(elsewhere.path()).args([
        "call",
        "user/getUinfos",
        UINFOS_ARG,
        "--url",
        &server.url(),
    ]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no credentials"), "{}", stderr(&out));
    assert!(
        !elsewhere.path().join("qunfa-data").exists(),
        "a failed call must not create a data dir"
    );

    // A refused call prints the answer and exits 1.
    let (code, got) = client.call("user/getUinfos", &["accids=nope"]);
    assert_eq!(code, Some(1));
    assert_eq!(got["code"], 414, "{got}");
}

#[test]
fn import_users_resumes_and_restart_changes_nothing() {
    let dir = tempdir();
    let server = Server::start(dir.path());
    let client = server.client(dir.path());
    let tokens = quick_start(dir.path(), &client);
    let tokens_path = dir.path().join("samples/users.csv.tokens.csv");
    let (mark_path, mark) = import_mark(dir.path());
    let rows = mark["rows_done"].as_u64().expect("rows_done");

    // Again: every row is behind the progress mark, so nothing is sent, and it says so.
    let out = client.run(&["import", "users", "samples/users.csv"]);
    let text = success(&out);
    assert_eq!(
        import_summary(&text),
        (0, "0 created, 0 already existed, 0 failed".to_owned())
    );
    assert_eq!(
        text.lines().nth(1),
        Some(
            format!(
                "skipped {rows} rows already imported into this app by an earlier run (--restart sends them again)"
            )
            .as_str()
        ),
        "{text}"
    );
    assert!(
        stderr(&out).contains(&format!(
            "resuming after row {rows}: an earlier run imported rows 1 to {rows} of this file into app {}",
            client.appkey
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(import_mark(dir.path()), (mark_path.clone(), mark.clone()));

    // --restart sends every row again: all exist already, and the tokens file still holds the
    // tokens the server stored on the first run.
    let out = client.run(&["import", "users", "samples/users.csv", "--restart"]);
    let text = success(&out);
    assert_eq!(
        import_summary(&text),
        (rows, format!("0 created, {rows} already existed, 0 failed"))
    );
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(!stderr(&out).contains("resuming"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&tokens_path).expect("tokens file"),
        tokens
    );
    assert_eq!(import_mark(dir.path()), (mark_path, mark));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("samples/users.csv.errors.csv"))
            .expect("errors file"),
        ""
    );
    let (code, got) = client.call("user/getUinfos", &[UINFOS_ARG]);
    assert_eq!((code, got), (Some(0), uinfos_answer()));

    // The quick start again in a new directory, with the same CSV (as in /tmp): a new app, so
    // every row is imported; the tokens generated before are reused, not replaced.
    let again = tempdir();
    let second = Server::start(again.path());
    let client2 = second.client(again.path());
    for (what, file) in [("areas", "areas.csv"), ("enterptypes", "enterptypes.csv")] {
        success(&client2.run(&["import", what, sample(file).to_str().expect("utf-8 path")]));
    }
    let csv = dir.path().join("samples/users.csv");
    let out = client2.run(&["import", "users", csv.to_str().expect("utf-8 path")]);
    let text = success(&out);
    assert_eq!(
        import_summary(&text),
        (rows, format!("{rows} created, 0 already existed, 0 failed"))
    );
    assert!(!text.contains("skipped"), "{text}");
    assert_eq!(
        std::fs::read_to_string(&tokens_path).expect("tokens file"),
        tokens
    );
    let (code, got) = client2.call("user/getUinfos", &[UINFOS_ARG]);
    assert_eq!((code, got), (Some(0), uinfos_answer()));
}

#[test]
fn import_areas_stays_under_the_rate_limit() {
    // More rows than the server's default 100 calls/s per group, children listed before their
    // parents: the import paces itself and orders the tree.
    let dir = tempdir();
    let server = Server::start(dir.path());
    let client = server.client(dir.path());
    let mut csv = String::from("areaid,name,parentid\n");
    for i in 1..=140 {
        csv.push_str(&format!("{},区{i},100\n", 100 + i));
    }
    csv.push_str("100,市,\n");
    std::fs::write(dir.path().join("areas.csv"), csv).expect("writing areas.csv");
    let out = client.run(&["import", "areas", "areas.csv"]);
    assert_eq!(success(&out), "areas: 141 created, 0 updated\n");
    let (code, got) = client.call("dic/listAreas", &[]);
    assert_eq!(code, Some(0));
    assert_eq!(
        got["data"]["areas"].as_array().map(Vec::len),
        Some(141),
        "{got}"
    );
}

#[test]
fn app_create_disable_enable_while_serving() {
    let dir = tempdir();
    let server = Server::start(dir.path());
    let (first_key, first_secret) = server
        .first_app
        .clone()
        .expect("a first start prints the first app");

    let out = run(qunfa(dir.path()).args(["app", "create", "second", "--json"]));
    let mut created: Value =
        serde_json::from_str(&success(&out)).expect("app create --json prints JSON");
    let appkey = created["appkey"].as_str().unwrap_or_default().to_owned();
    let secret = created["secret"].as_str().unwrap_or_default().to_owned();
    let created_ms = created["created_ms"].take();
    assert!(is_hex32(&appkey) && is_hex32(&secret), "{created}");
    assert!(
        created_ms.as_u64().is_some_and(|ms| ms > 0),
        "created_ms {created_ms}"
    );
    assert_eq!(
        created,
        json!({"appkey": appkey, "secret": secret, "name": "second", "disabled": false, "created_ms": null})
    );

    // The running server knows the new app at once, and it sees none of the first app's data.
    let second = Client {
        cwd: dir.path().to_owned(),
        url: server.url(),
        appkey: appkey.clone(),
        secret,
    };
    let empty = (Some(0), json!({"code": 200, "data": {"enterptypes": []}}));
    assert_eq!(second.call("dic/listEnterptypes", &[]), empty);

    let out = run(qunfa(dir.path()).args(["app", "disable", &appkey, "--json"]));
    let listed: Value =
        serde_json::from_str(&success(&out)).expect("app disable --json prints JSON");
    assert_eq!(
        listed,
        json!([{"appkey": appkey, "secret": second.secret, "name": "second", "disabled": true, "created_ms": created_ms}])
    );
    let forbidden = (Some(1), json!({"code": 403, "desc": "app is forbidden"}));
    second.call_until("dic/listEnterptypes", &forbidden, APP_REFRESH_TIMEOUT);

    let out = run(qunfa(dir.path()).args(["app", "list", "--json"]));
    let mut apps: Value =
        serde_json::from_str(&success(&out)).expect("app list --json prints JSON");
    let first_ms = apps[0]["created_ms"].take();
    assert!(
        first_ms.as_u64().is_some_and(|ms| ms > 0),
        "created_ms {first_ms}"
    );
    assert_eq!(
        apps,
        json!([
            {"appkey": first_key, "secret": first_secret, "name": "default", "disabled": false, "created_ms": null},
            {"appkey": appkey, "secret": second.secret, "name": "second", "disabled": true, "created_ms": created_ms},
        ])
    );

    // The first app is unaffected; the second works again once enabled.
    assert_eq!(
        server.client(dir.path()).call("dic/listEnterptypes", &[]),
        empty
    );
    let out = run(qunfa(dir.path()).args(["app", "enable", &appkey]));
    let text = success(&out);
    assert!(text.contains(&appkey) && text.contains("enabled"), "{text}");
    second.call_until("dic/listEnterptypes", &empty, APP_REFRESH_TIMEOUT);

    // An unknown key is an error.
    let out = run(qunfa(dir.path()).args(["app", "disable", "0123456789abcdef0123456789abcdef"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not found"), "{}", stderr(&out));
}

#[test]
fn config_prints_toml_and_refuses_unknown_env() {
    let dir = tempdir();
    let out = run(qunfa(dir.path()).arg("config"));
    let text = success(&out);
    assert!(text.lines().any(|l| l.starts_with("listen = ")), "{text}");
    assert!(text.contains("data_dir = \"./qunfa-data\""), "{text}");

    // Environment variables are a layer over the defaults.
    let out = run(qunfa(dir.path())
        .arg("config")
        .env("QUNFA_LISTEN", "127.0.0.1:9999"));
    assert!(
        success(&out)
            .lines()
            .any(|l| l == r#"listen = "127.0.0.1:9999""#),
        "{}",
        stdout(&out)
    );

    // Another QUNFA_ variable is not a setting and changes nothing: a misspelt one gets a
    // warning naming the setting it probably meant, an unrelated one not even that.
    let plain = success(&run(qunfa(dir.path()).arg("config")));
    let out = run(qunfa(dir.path())
        .arg("config")
        .env("QUNFA_LISTN", "x")
        .env("QUNFA_BIN", "/usr/bin/qunfa"));
    assert_eq!(success(&out), plain);
    assert_eq!(
        stderr(&out),
        "warning: ignoring QUNFA_LISTN: it names no setting (did you mean QUNFA_LISTEN?)\n"
    );
    let elsewhere = tempdir();
    let out = run(qunfa(elsewhere.path())
        .args(["app", "list", "--json"])
        .env("QUNFA_BIN", "/usr/bin/qunfa"));
    assert_eq!(success(&out).trim(), "[]");
    assert_eq!(stderr(&out), "");

    // A bad value for a real setting is still an error naming the variable.
    let out = run(qunfa(dir.path())
        .arg("config")
        .env("QUNFA_API__REPLAY_CHECK", "sometimes"));
    assert!(!out.status.success(), "{}", stdout(&out));
    assert_eq!(stdout(&out), "");
    assert!(
        stderr(&out).contains("QUNFA_API__REPLAY_CHECK"),
        "{}",
        stderr(&out)
    );

    // The documented example file; none of these touches the data dir.
    let out = run(qunfa(dir.path()).args(["config", "--example"]));
    assert!(success(&out).contains("listen = "), "{}", stdout(&out));
    assert!(
        !dir.path().join("qunfa-data").exists(),
        "config must not create the data dir"
    );
}

#[test]
fn one_server_per_data_dir_and_sigterm_stops_it() {
    let dir = tempdir();
    let mut server = Server::start(dir.path());
    let client = server.client(dir.path());

    // A second server on the same data dir is refused while the first runs.
    let out = run(qunfa(dir.path()).args(["serve", "--listen", "127.0.0.1:0"]));
    assert!(
        !out.status.success(),
        "a second server started:\n{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("already using the data dir"),
        "{}",
        stderr(&out)
    );

    // The first one still serves, and keeps what it is told.
    let (code, got) = client.call("dic/createEnterptype", &["enterptypeid=7", "name=建筑"]);
    assert_eq!(
        (code, got),
        (
            Some(0),
            json!({"code": 200, "data": {"enterptypeid": "7", "name": "建筑"}})
        )
    );

    // SIGTERM: a clean exit with status 0.
    kill(server.child.id(), "TERM").expect("running kill");
    let status = server.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{status}");
    let log = server.rest_of_log();
    assert!(
        log.iter().any(|l| l.contains("shutting down")),
        "{}",
        log.join("\n")
    );
    assert!(
        log.last().is_some_and(|l| l.contains("qunfa stopped")),
        "{}",
        log.join("\n")
    );

    // The lock went with it: a new server on the same dir starts, creates no app, and has the data.
    let again = Server::start(dir.path());
    assert_eq!(again.first_app, None, "{}", again.log.join("\n"));
    let client = Client {
        url: again.url(),
        ..client
    };
    let (code, got) = client.call("dic/listEnterptypes", &[]);
    assert_eq!(
        (code, got),
        (
            Some(0),
            json!({"code": 200, "data": {"enterptypes": [{"enterptypeid": "7", "name": "建筑"}]}})
        )
    );
}

/// The line of a bench report that starts with `prefix` (indentation trimmed).
fn report_line(text: &str, prefix: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line in:\n{text}"))
        .to_owned()
}

/// `qunfa bench send --rate`: the calls are paced (the last of N at R/s starts (N − 1)/R s in),
/// all of them answered and counted, under the default rate limit.
#[test]
fn bench_send_paces_its_calls() {
    let dir = tempdir();
    let server = Server::start(dir.path());
    let client = server.client(dir.path());
    for accid in ["u0000000", "u0000001"] {
        let token = format!("token={accid}");
        let accid = format!("accid={accid}");
        assert_eq!(
            client.call("user/create", &[&accid, &token]).0,
            Some(0),
            "creating {accid}"
        );
    }
    let out = client.run(&[
        "bench",
        "send",
        "--endpoint",
        "sendMsg",
        "--rate",
        "20",
        "--requests",
        "10",
        "--concurrency",
        "4",
        "--warmup",
        "1",
    ]);
    let text = success(&out);
    let line = |prefix: &str| report_line(&text, prefix);
    assert_eq!(
        line("requests"),
        "requests      10 measured, concurrency 4, paced at 20/s, after 1 warm-up"
    );
    assert_eq!(line("errors"), "errors        0 (all 10 answered code 200)");
    let wall: f64 = line("wall time")
        .trim_start_matches("wall time")
        .trim()
        .trim_end_matches(" s")
        .parse()
        .expect("wall time in seconds");
    assert!(
        (0.45..30.0).contains(&wall),
        "10 calls at 20/s take at least 0.45 s, took {wall} s"
    );
}

/// `qunfa bench gen`, its import, and `qunfa bench fanout` with point-to-point calls mixed in:
/// every client logs in, and the loss check finds every acknowledged send at every client once.
#[test]
fn bench_fanout_checks_every_delivery() {
    let dir = tempdir();
    let server = Server::start(dir.path());
    let client = server.client(dir.path());
    let gen_dir = dir.path().join("gen");
    let gen_path = gen_dir.to_str().expect("utf-8 path");
    success(&client.run(&["bench", "gen", "--users", "30", "--dir", gen_path]));
    for what in ["areas", "enterptypes", "users"] {
        let file = gen_dir.join(format!("{what}.csv"));
        success(&client.run(&["import", what, file.to_str().expect("utf-8 path")]));
    }
    // Under the default rate limit (100 calls/s per app and group): 20 + 5 calls in 1 s.
    let out = client.run(&[
        "bench",
        "fanout",
        "--clients",
        "20",
        "--sends",
        "2",
        "--duration",
        "1",
        "--rate",
        "20",
        "--p2p-rate",
        "5",
    ]);
    let text = success(&out);
    let line = |prefix: &str| report_line(&text, prefix);
    assert!(
        line("logged in").starts_with("logged in        20 of 20 in"),
        "{text}"
    );
    assert_eq!(line("sends"), "sends            20 acknowledged (20.0/s)");
    assert_eq!(line("deliveries"), "deliveries       400 of 400 expected");
    let mixed = line("mixed in");
    let calls: u64 = mixed
        .trim_start_matches("mixed in")
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no call count in {mixed:?}"));
    assert!(
        (5..=6).contains(&calls) && mixed.ends_with(", 0 failed"),
        "5 sendMsg/s for 1 s, all answered: {mixed}"
    );
    assert_eq!(
        line("loss check"),
        "loss check: 22 acknowledged sends × 20 logged-in clients"
    );
    assert_eq!(
        line("missing"),
        "missing          0 deliveries, at 0 clients"
    );
    assert_eq!(line("duplicates"), "duplicates       0");
    assert_eq!(line("ended by server"), "ended by server  none");
}
