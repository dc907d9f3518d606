//! `qunfa watch ACCID --token T`: a terminal client of the gateway. It logs in, prints what
//! the account catches up on and then what arrives live, one JSON frame per line, and
//! acknowledges what it printed. The quick start uses it to watch a targeted send arrive.
//!
//! When the connection is lost (a server restart, say) it says so on stderr and logs in again
//! with backoff (0.5 s doubling up to 15 s, jittered), resuming after the last msgid it
//! printed; a refused login, a kick or a protocol error ends it.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::{Ctx, Target};

#[derive(clap::Args)]
pub struct Args {
    /// The account to log in as.
    accid: String,
    /// Its token (as `user/create` answered it).
    #[arg(long)]
    token: String,
    /// Start after this msgid (0: everything the account has).
    #[arg(long, default_value_t = 0)]
    cursor: i64,
    /// Stop after this many messages (0: run until interrupted).
    #[arg(long, default_value_t = 0)]
    count: u64,
    #[command(flatten)]
    target: Target,
}

const FIRST_DELAY: Duration = Duration::from_millis(500);
const MAX_DELAY: Duration = Duration::from_secs(15);

/// How a connection ended.
enum End {
    /// Done: exit with this.
    Exit(ExitCode),
    /// Lost: log in again after a pause. `logged_in`: the login had succeeded (backoff resets).
    Lost { why: String, logged_in: bool },
}

/// Where the watch is: the cursor to resume after, and how many messages it printed.
struct Progress {
    cursor: i64,
    seen: u64,
}

pub async fn run(ctx: &Ctx, args: Args) -> anyhow::Result<ExitCode> {
    let client = args.target.client(ctx).await?;
    let url = client
        .url("x")
        .replace("/nimserver/x.action", "/ws")
        .replacen("http", "ws", 1);
    let mut at = Progress {
        cursor: args.cursor,
        seen: 0,
    };
    let mut delay = FIRST_DELAY;
    loop {
        match connection(&url, client.appkey(), &args, &mut at).await? {
            End::Exit(code) => return Ok(code),
            End::Lost { why, logged_in } => {
                if logged_in {
                    delay = FIRST_DELAY;
                }
                // Half fixed, half random, so watchers do not all come back at once.
                let jitter = u64::from_str_radix(&qunfa_core::random_hex(2), 16).unwrap_or(0);
                let wait = delay / 2 + delay.mul_f64(jitter as f64 / 65535.0) / 2;
                eprintln!(
                    "{why}; reconnecting in {:.1} s (resuming after msgid {})",
                    wait.as_secs_f64(),
                    at.cursor
                );
                tokio::time::sleep(wait).await;
                delay = (delay * 2).min(MAX_DELAY);
            }
        }
    }
}

/// One connection: login, then frames until it ends.
async fn connection(
    url: &str,
    appkey: &str,
    args: &Args,
    at: &mut Progress,
) -> anyhow::Result<End> {
    let lost = |why: String, logged_in| Ok(End::Lost { why, logged_in });
    let mut ws = match tokio_tungstenite::connect_async(url).await {
        Ok((ws, _)) => ws,
        Err(e) => return lost(format!("cannot connect to {url}: {e}"), false),
    };
    let login = json!({"op": "login", "appkey": appkey, "accid": args.accid, "token": args.token, "cursor": at.cursor});
    if let Err(e) = ws.send(Message::Text(login.to_string().into())).await {
        return lost(format!("connection lost: {e}"), false);
    }
    let mut logged_in = false;
    while let Some(frame) = ws.next().await {
        let text = match frame {
            Ok(Message::Text(t)) => t,
            Ok(Message::Close(f)) => {
                let (code, reason) = f
                    .map(|f| (u16::from(f.code), f.reason.to_string()))
                    .unwrap_or((1005, String::new()));
                return match code {
                    1000 => {
                        eprintln!("connection closed: {code} {reason}");
                        Ok(End::Exit(ExitCode::SUCCESS))
                    }
                    // Refused, kicked, or a protocol error: trying again would not help.
                    1008 | 4001 | 4003 => {
                        eprintln!("connection closed: {code} {reason}");
                        Ok(End::Exit(ExitCode::FAILURE))
                    }
                    _ => lost(format!("connection closed: {code} {reason}"), logged_in),
                };
            }
            Ok(_) => continue,
            Err(e) => return lost(format!("connection lost: {e}"), logged_in),
        };
        let v: Value = serde_json::from_str(text.as_str()).context("a frame that is not JSON")?;
        println!("{v}");
        match v["op"].as_str() {
            Some("login") if v["code"] != 200 => {
                bail!("login refused: {} {}", v["code"], v["desc"])
            }
            Some("login") => logged_in = true,
            Some("msg") | Some("recall") => {
                let id = if v["op"] == "msg" {
                    v["msg"]["msgid"].as_i64()
                } else {
                    v["msgid"].as_i64()
                };
                if let Some(id) = id.filter(|&id| id > at.cursor) {
                    at.cursor = id;
                    let ack = json!({"op": "ack", "cursor": at.cursor}).to_string();
                    if let Err(e) = ws.send(Message::Text(ack.into())).await {
                        return lost(format!("connection lost: {e}"), logged_in);
                    }
                }
                at.seen += 1;
                if args.count > 0 && at.seen >= args.count {
                    let _ = ws.close(None).await;
                    return Ok(End::Exit(ExitCode::SUCCESS));
                }
            }
            _ => {}
        }
    }
    lost("connection lost".into(), logged_in)
}
