//! `qunfa bench reconnect`: one account misses messages while offline, then reconnects, again
//! and again: how long until the login answered and until every missed message arrived.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use qunfa_server::client::NimClient;
use roaring::RoaringBitmap;
use serde_json::json;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::{
    Accounts, BODY, msgid_from, msgid_of, pct, raise_nofile, send_to_all, sorted, ws_endpoint,
};
use crate::cmd::{Ctx, Target};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Via {
    /// msg/sendMsg from `--from` to the account (point-to-point messages).
    #[value(name = "sendMsg")]
    SendMsg,
    /// msg/sendMsgToAll with toAccids=[the account] (targeted messages, each with an audience).
    #[value(name = "sendMsgToAll")]
    SendMsgToAll,
}

#[derive(clap::Args)]
pub struct ReconnectArgs {
    /// Messages the account receives while offline.
    #[arg(long, default_value_t = 10_000)]
    missed: usize,
    #[arg(long, value_enum, default_value = "sendMsg")]
    via: Via,
    /// Sender of the sendMsg messages.
    #[arg(long, default_value = "u0000000")]
    from: String,
    /// Number of the receiving account (with `--prefix`/`--token-prefix`).
    #[arg(long, default_value_t = 1)]
    account: usize,
    /// Send calls in flight while queueing the missed messages.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Timed reconnects, each catching up on all the missed messages again.
    #[arg(long, default_value_t = 5)]
    repeat: usize,
    /// Log in with this cursor instead of the msgid just before the missed messages (0 replays
    /// everything the account ever received).
    #[arg(long)]
    cursor: Option<i64>,
    #[command(flatten)]
    accounts: Accounts,
    #[command(flatten)]
    target: Target,
}

pub async fn reconnect(ctx: &Ctx, args: ReconnectArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.missed > 0, "--missed must be at least 1");
    raise_nofile();
    let nim = args.target.client(ctx).await?;
    let (url, hostport) = ws_endpoint(&nim)?;
    let acc = &args.accounts;
    let accid = acc.accid(args.account);
    let token = acc.token(args.account);

    // The msgid just before the missed messages: the cursor of a client that had everything
    // until it went offline.
    let probe = send_one(&nim, args.via, &args.from, &accid).await?;
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..args.concurrency.max(1) {
        let (nim, next, from, to, via, total) = (
            nim.clone(),
            next.clone(),
            args.from.clone(),
            accid.clone(),
            args.via,
            args.missed,
        );
        workers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < total {
                ids.push(send_one(&nim, via, &from, &to).await?);
            }
            anyhow::Ok(ids)
        }));
    }
    let mut acked = RoaringBitmap::new();
    for w in workers {
        for id in w.await.context("send worker failed")?? {
            acked.insert(u32::try_from(id - probe).context("msgid range")?);
        }
    }
    let queue_s = started.elapsed().as_secs_f64();
    let cursor = args.cursor.unwrap_or(probe);
    println!(
        "qunfa bench reconnect: {accid} missed {} messages ({:?}; sent in {queue_s:.2} s, {:.0}/s), reconnects with cursor {cursor}",
        args.missed,
        args.via,
        args.missed as f64 / queue_s.max(1e-9)
    );

    let config = WebSocketConfig::default()
        .read_buffer_size(acc.read_buffer)
        .write_buffer_size(0);
    let login = json!({"op": "login", "appkey": nim.appkey(), "accid": accid, "token": token, "cursor": cursor}).to_string();
    let (mut t_login, mut t_all, mut frames) = (Vec::new(), Vec::new(), 0usize);
    for round in 0..args.repeat.max(1) {
        let t0 = Instant::now();
        let tcp = TcpStream::connect(&hostport).await?;
        tcp.set_nodelay(true)?;
        let (mut ws, _) =
            tokio_tungstenite::client_async_with_config(url.as_str(), tcp, Some(config)).await?;
        ws.send(Message::Text(login.clone().into())).await?;
        let mut got = RoaringBitmap::new();
        let mut n = 0usize;
        let mut logged_ms = f64::NAN;
        let all_ms = loop {
            let frame = tokio::time::timeout(Duration::from_secs(30), ws.next())
                .await
                .context("no frame for 30 s")?;
            let t = match frame {
                Some(Ok(Message::Text(t))) => t,
                Some(Ok(Message::Close(f))) => bail!("closed: {f:?}"),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
                None => bail!("connection ended"),
            };
            if let Some(id) = msgid_of(t.as_str()) {
                n += 1;
                if let Ok(rel) = u32::try_from(id - probe) {
                    got.insert(rel);
                }
                if got.is_superset(&acked) {
                    break t0.elapsed().as_secs_f64() * 1000.0;
                }
            } else if t.as_str().contains("\"op\":\"login\"") {
                if !t.as_str().contains("\"code\":200") {
                    bail!("login refused: {t}");
                }
                logged_ms = t0.elapsed().as_secs_f64() * 1000.0;
            } else if t.as_str().contains("\"op\":\"synced\"") {
                bail!(
                    "synced with {} of the {} missed messages",
                    got.intersection_len(&acked),
                    acked.len()
                );
            }
        };
        println!(
            "  reconnect {:>2}: login answered {logged_ms:.1} ms, all {} missed received {all_ms:.1} ms ({n} frames)",
            round + 1,
            acked.len()
        );
        t_login.push(logged_ms);
        t_all.push(all_ms);
        frames = n;
        let _ = ws.close(None).await;
    }
    let (t_login, t_all) = (sorted(t_login), sorted(t_all));
    println!(
        "  p50: login {:.1} ms, all received {:.1} ms ({frames} frames, {:.0} messages/s); max {:.1} ms",
        pct(&t_login, 50.0),
        pct(&t_all, 50.0),
        frames as f64 / (pct(&t_all, 50.0) / 1000.0),
        t_all.last().copied().unwrap_or(f64::NAN)
    );
    Ok(())
}

/// One message to `to`, answering its msgid.
async fn send_one(nim: &NimClient, via: Via, from: &str, to: &str) -> anyhow::Result<i64> {
    match via {
        Via::SendMsgToAll => send_to_all(nim, Some(to)).await,
        Via::SendMsg => msgid_from(
            nim.call(
                "msg/sendMsg",
                &[
                    ("from", from),
                    ("ope", "0"),
                    ("to", to),
                    ("type", "0"),
                    ("body", BODY),
                ],
            )
            .await?,
        ),
    }
}
