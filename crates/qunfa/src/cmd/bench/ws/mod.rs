//! `qunfa bench fanout` and `qunfa bench reconnect`: end-to-end WebSocket benchmarks against a
//! running server. Many lean clients (4 KiB read buffers, one task each, on a runtime of their
//! own) log in as `bench gen` accounts; signed HTTP calls send; the clients time and count what
//! arrives. They print numbers and never pass or fail anything (see `docs/benchmarks.md`).
//!
//! This module holds what both share: the accounts, the WebSocket endpoint, connecting and
//! logging in, reading msgids out of frames, the send calls and the statistics helpers.

mod fanout;
mod fleet;
mod reconnect;

pub use fanout::{FanoutArgs, fanout};
pub use reconnect::{ReconnectArgs, reconnect};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use qunfa_server::client::NimClient;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// The accounts the clients log in as: `bench gen` writes u0000000/tok0000000, u0000001/…
#[derive(clap::Args, Clone)]
pub struct Accounts {
    /// Accid prefix; the account number follows, zero-padded to 7 digits.
    #[arg(long, default_value = "u")]
    prefix: String,
    /// Token prefix; the same account number follows.
    #[arg(long, default_value = "tok")]
    token_prefix: String,
    /// Number of the first account used.
    #[arg(long, default_value_t = 0)]
    first: usize,
    /// Read buffer of each client connection, in bytes.
    #[arg(long, default_value_t = 4096)]
    read_buffer: usize,
}

impl Accounts {
    fn accid(&self, i: usize) -> String {
        format!("{}{:07}", self.prefix, self.first + i)
    }
    fn token(&self, i: usize) -> String {
        format!("{}{:07}", self.token_prefix, self.first + i)
    }
}

const BODY: &str = r#"{"msg":"qunfa bench"}"#;

/// Lets this process open as many sockets as its hard limit allows.
fn raise_nofile() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0)
}

/// `http://host:port` → (`ws://host:port/ws`, `host:port`).
fn ws_endpoint(nim: &NimClient) -> anyhow::Result<(String, String)> {
    let base = nim.url("x").replace("/nimserver/x.action", "");
    let hostport = base
        .strip_prefix("http://")
        .context("the benchmark speaks plain http:// and ws:// only")?
        .trim_end_matches('/')
        .to_owned();
    Ok((format!("ws://{hostport}/ws"), hostport))
}

/// The msgid of a `msg` (or `recall`) frame, found without parsing the whole frame: the
/// bench's bodies never contain the text `"msgid":`.
fn msgid_of(frame: &str) -> Option<i64> {
    let at = frame.find("\"msgid\":")? + 8;
    let digits = &frame[at..];
    let end = digits
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

type Ws = WebSocketStream<TcpStream>;

/// Opens a connection and logs in; answers it once `synced` arrived, with the frames seen.
async fn connect_login(
    url: &str,
    hostport: &str,
    config: WebSocketConfig,
    login: String,
) -> anyhow::Result<(Ws, Vec<i64>)> {
    let tcp = TcpStream::connect(hostport)
        .await
        .with_context(|| format!("connecting to {hostport}"))?;
    tcp.set_nodelay(true)?;
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(url, tcp, Some(config))
        .await
        .context("websocket handshake")?;
    ws.send(Message::Text(login.into())).await?;
    let mut caught_up = Vec::new();
    loop {
        let frame = match ws.next().await {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(f))) => bail!("closed during login: {f:?}"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.into()),
            None => bail!("connection ended during login"),
        };
        if let Some(id) = msgid_of(frame.as_str()) {
            caught_up.push(id);
            continue;
        }
        let v: Value = serde_json::from_str(frame.as_str()).context("a frame that is not JSON")?;
        match v["op"].as_str() {
            Some("login") if v["code"] != 200 => bail!("login refused: {v}"),
            Some("synced") => return Ok((ws, caught_up)),
            _ => {}
        }
    }
}

/// A sendMsgToAll to everyone whose body carries `t`, the send's start in ns after the
/// clients' base instant: sampled clients time each delivery from it.
async fn send_to_all_timed(nim: &NimClient, t: u64) -> anyhow::Result<i64> {
    let body = json!({"msg": "qunfa bench", "t": t}).to_string();
    msgid_from(
        nim.call("msg/sendMsgToAll", &[("type", "0"), ("body", &body)])
            .await?,
    )
}

/// The `t` a timed send put in its body, found without parsing the whole frame.
fn sent_at(frame: &str) -> Option<u64> {
    let at = frame.find("\"t\":")? + 4;
    let digits = &frame[at..];
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

/// A signed sendMsgToAll (to everyone, or to `to` only): its msgid when it answered 200.
async fn send_to_all(nim: &NimClient, to: Option<&str>) -> anyhow::Result<i64> {
    let list;
    let mut params = vec![("type", "0"), ("body", BODY)];
    if let Some(a) = to {
        list = json!([a]).to_string();
        params.push(("toAccids", &list));
    }
    msgid_from(nim.call("msg/sendMsgToAll", &params).await?)
}

fn msgid_from(answer: Value) -> anyhow::Result<i64> {
    if answer["code"] != 200 {
        if answer["code"] == 416 {
            bail!(
                "answered {answer}: the server's rate limit; run it with QUNFA_RATE_LIMITS__ENABLED=false"
            );
        }
        bail!("answered {answer}");
    }
    answer["data"]["msgid"]
        .as_i64()
        .with_context(|| format!("no msgid in {answer}"))
}

/// VmRSS of a process, in KiB.
fn rss_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Nearest-rank percentile of sorted values.
fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}
