//! `qunfa watch ACCID --token T`: a terminal client of the gateway. It logs in, prints what
//! the account catches up on and then what arrives live, one JSON frame per line, and
//! acknowledges what it printed. The quick start uses it to watch a targeted send arrive.

use std::process::ExitCode;

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

pub async fn run(ctx: &Ctx, args: Args) -> anyhow::Result<ExitCode> {
    let client = args.target.client(ctx).await?;
    let url = client
        .url("x")
        .replace("/nimserver/x.action", "/ws")
        .replacen("http", "ws", 1);
    let (mut ws, _) = tokio_tungstenite::connect_async(&url)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    let login = json!({"op": "login", "appkey": client.appkey(), "accid": args.accid, "token": args.token, "cursor": args.cursor});
    ws.send(Message::Text(login.to_string().into())).await?;
    let mut seen = 0u64;
    let mut cursor = args.cursor;
    while let Some(frame) = ws.next().await {
        let text = match frame? {
            Message::Text(t) => t,
            Message::Close(f) => {
                let (code, reason) = f
                    .map(|f| (u16::from(f.code), f.reason.to_string()))
                    .unwrap_or((1005, String::new()));
                eprintln!("connection closed: {code} {reason}");
                return Ok(if code == 1000 || code == 1001 {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                });
            }
            _ => continue,
        };
        let v: Value = serde_json::from_str(text.as_str()).context("a frame that is not JSON")?;
        println!("{v}");
        match v["op"].as_str() {
            Some("login") if v["code"] != 200 => {
                bail!("login refused: {} {}", v["code"], v["desc"])
            }
            Some("msg") | Some("recall") => {
                let id = if v["op"] == "msg" {
                    v["msg"]["msgid"].as_i64()
                } else {
                    v["msgid"].as_i64()
                };
                if let Some(id) = id.filter(|&id| id > cursor) {
                    cursor = id;
                    ws.send(Message::Text(
                        json!({"op": "ack", "cursor": cursor}).to_string().into(),
                    ))
                    .await?;
                }
                seen += 1;
                if args.count > 0 && seen >= args.count {
                    let _ = ws.close(None).await;
                    return Ok(ExitCode::SUCCESS);
                }
            }
            _ => {}
        }
    }
    Ok(ExitCode::SUCCESS)
}
