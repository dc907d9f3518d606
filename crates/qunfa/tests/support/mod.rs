//! What the process-level tests share: real `qunfa serve` processes (on SQLite or on a fresh
//! PostgreSQL schema), a NATS server of their own, and WebSocket clients.

#![allow(dead_code, unused_imports, clippy::unwrap_used)] // each test binary uses its own part of this

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const BIN: &str = env!("CARGO_BIN_EXE_qunfa");
pub const WAIT: Duration = Duration::from_secs(20);

/// A finished command's stdout, then its stderr, as text.
pub fn output_text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Drops ANSI escape sequences (`ESC [ … final byte`).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
        } else if chars.next() == Some('[') {
            for c in chars.by_ref() {
                if ('\u{40}'..='\u{7e}').contains(&c) {
                    break;
                }
            }
        }
    }
    out
}

/// How to start one `qunfa serve`.
#[derive(Clone, Debug, Default)]
pub struct Opts {
    /// Working directory; the data directory is `DIR/qunfa-data`.
    pub dir: PathBuf,
    pub store: Option<String>,
    pub bus: Option<String>,
    pub env: Vec<(String, String)>,
    /// `--listen` (default `127.0.0.1:0`).
    pub listen: Option<String>,
}

/// A running `qunfa serve`, killed when dropped.
pub struct Serve {
    child: Child,
    pub url: String,
    /// AppKey and AppSecret, printed on a first start only.
    pub app: Option<(String, String)>,
    pub opts: Opts,
    /// Everything it printed so far (stdout and stderr, ANSI escapes removed), line by line.
    pub output: Arc<Mutex<Vec<String>>>,
}

/// The lines a child prints on stdout and on stderr (the log), as they come, ANSI escapes
/// removed. Both pipes are read for the child's whole life, so it never blocks on one.
pub fn output_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let out = child
        .stdout
        .take()
        .map(|o| Box::new(o) as Box<dyn std::io::Read + Send>);
    let err = child
        .stderr
        .take()
        .map(|e| Box::new(e) as Box<dyn std::io::Read + Send>);
    for pipe in [out, err].into_iter().flatten() {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if tx.send(strip_ansi(&line)).is_err() {
                    break;
                }
            }
        });
    }
    rx
}

/// What `qunfa serve` logs, before it listens, when it created no app (so no credentials come).
pub const NOT_FIRST_START: &str = "`qunfa app list` shows the apps' AppKeys and AppSecrets";

/// The address in `qunfa serve`'s "qunfa listening" log line, text or JSON.
pub fn listen_addr(line: &str) -> Option<String> {
    if line.starts_with('{') {
        let v: Value = serde_json::from_str(line).ok()?;
        return (v["msg"] == "qunfa listening")
            .then(|| v["listen"].as_str().map(str::to_owned))
            .flatten();
    }
    line.contains("qunfa listening")
        .then(|| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix("listen="))
        })
        .flatten()
        .map(str::to_owned)
}

impl Serve {
    fn spawn(opts: &Opts) -> (Child, mpsc::Receiver<String>) {
        let mut cmd = Command::new(BIN);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("QUNFA_") {
                cmd.env_remove(&key);
            }
        }
        cmd.current_dir(&opts.dir)
            .args(["serve", "--listen"])
            .arg(opts.listen.as_deref().unwrap_or("127.0.0.1:0"))
            .env("NO_COLOR", "1")
            .env("QUNFA_RATE_LIMITS__ENABLED", "false")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(s) = &opts.store {
            cmd.args(["--store", s]);
        }
        if let Some(b) = &opts.bus {
            cmd.args(["--bus", b]);
        }
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawning qunfa serve");
        let rx = output_lines(&mut child);
        (child, rx)
    }

    fn ready(mut child: Child, rx: mpsc::Receiver<String>, opts: Opts) -> Serve {
        let deadline = Instant::now() + WAIT;
        let (mut key, mut secret) = (None, None);
        let (mut listen, mut later) = (None, false);
        let mut log = Vec::new();
        loop {
            let line = match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(l) => l,
                Err(e) => {
                    let _ = child.kill();
                    panic!(
                        "qunfa serve did not start ({e}); stdout:\n{}",
                        log.join("\n")
                    );
                }
            };
            log.push(line.clone());
            let t = line.trim();
            if let Some(v) = t.strip_prefix("AppKey:") {
                key = Some(v.trim().to_owned());
            } else if let Some(v) = t.strip_prefix("AppSecret:") {
                secret = Some(v.trim().to_owned());
            } else if let Some(addr) = listen_addr(&line) {
                listen = Some(addr);
            } else if line.contains(NOT_FIRST_START) {
                later = true;
            }
            // The credentials (stdout) and the log (stderr) come through two pipes: wait for
            // both the listen line and, on a first start, the credentials.
            if let Some(addr) = listen.clone().filter(|_| later || secret.is_some()) {
                let url = format!("http://{addr}");
                let output = Arc::new(Mutex::new(log));
                // Keep draining the pipes so the server never blocks on a full one.
                let keep = output.clone();
                std::thread::spawn(move || {
                    while let Ok(l) = rx.recv() {
                        keep.lock().unwrap().push(l);
                    }
                });
                return Serve {
                    child,
                    url,
                    app: key.zip(secret),
                    opts,
                    output,
                };
            }
        }
    }

    pub fn start(opts: Opts) -> Serve {
        let (child, rx) = Self::spawn(&opts);
        Self::ready(child, rx, opts)
    }

    /// Starts them all at once (as nodes of one deployment would), then waits for each.
    pub fn start_all(all: Vec<Opts>) -> Vec<Serve> {
        let spawned: Vec<_> = all.into_iter().map(|o| (Self::spawn(&o), o)).collect();
        spawned
            .into_iter()
            .map(|((child, rx), o)| Self::ready(child, rx, o))
            .collect()
    }

    pub fn kill9(&mut self) {
        let status = Command::new("kill")
            .args(["-KILL", &self.child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success());
        let _ = self.child.wait();
    }

    /// Waits (up to WAIT) for an output line `pick` accepts, and answers what it made of it.
    pub fn wait_line<T>(&self, pick: impl Fn(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(t) = self.output.lock().unwrap().iter().find_map(|l| pick(l)) {
                return t;
            }
            assert!(
                Instant::now() < deadline,
                "no such line within {WAIT:?}; output:\n{}",
                self.output.lock().unwrap().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops it with SIGTERM and waits for it to exit.
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }

    pub fn ws_url(&self) -> String {
        format!("{}/ws", self.url.replacen("http", "ws", 1))
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free TCP port on 127.0.0.1 (free when asked; good enough for a test's own server).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A nats-server of the test's own, so it can be stopped and restarted freely.
pub struct Nats {
    child: Option<Child>,
    pub port: u16,
}

impl Nats {
    pub fn start() -> Nats {
        let mut n = Nats {
            child: None,
            port: free_port(),
        };
        n.up();
        n
    }

    fn up(&mut self) {
        let bin = ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("nats-server");
        let child = Command::new(bin)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {bin} (Debian package nats-server): {e}"));
        self.child = Some(child);
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.up();
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A PostgreSQL schema of the test's own, dropped afterwards.
pub use qunfa_store::testing::PgSchema;

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A logged-in WebSocket client.
pub struct Client {
    pub ws: Ws,
    pub accid: String,
}

impl Client {
    /// Logs in; answers the client and the `msg`/`recall` frames of its catch-up, once
    /// `synced` came.
    pub async fn login(
        ws_url: &str,
        appkey: &str,
        accid: &str,
        token: &str,
        cursor: i64,
    ) -> (Client, Vec<Value>) {
        let (mut ws, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
        let frame = json!({"op": "login", "appkey": appkey, "accid": accid, "token": token, "cursor": cursor});
        ws.send(Message::Text(frame.to_string().into()))
            .await
            .unwrap();
        let mut caught_up = Vec::new();
        loop {
            let m = tokio::time::timeout(WAIT, ws.next())
                .await
                .expect("frames until synced")
                .expect("connection open")
                .unwrap();
            let Message::Text(t) = m else { continue };
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            match v["op"].as_str() {
                Some("login") => assert_eq!(v["code"], 200, "{v}"),
                Some("synced") => {
                    return (
                        Client {
                            ws,
                            accid: accid.to_owned(),
                        },
                        caught_up,
                    );
                }
                _ => caught_up.push(v),
            }
        }
    }

    /// The next frame within `within` (`None`: nothing came, or the connection ended).
    pub async fn next(&mut self, within: Duration) -> Option<Value> {
        loop {
            match tokio::time::timeout(within, self.ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => return serde_json::from_str(t.as_str()).ok(),
                Ok(Some(Ok(Message::Close(f)))) => {
                    return Some(json!({"op": "close", "code": f.map(|f| u16::from(f.code))}));
                }
                Ok(Some(Ok(_))) => continue,
                _ => return None,
            }
        }
    }
}

/// The msgid of a `msg` frame.
pub fn msgid(frame: &Value) -> Option<i64> {
    (frame["op"] == "msg").then(|| frame["msg"]["msgid"].as_i64())?
}
