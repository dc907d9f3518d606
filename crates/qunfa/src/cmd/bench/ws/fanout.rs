//! `qunfa bench fanout`: connects and logs in the clients, measures memory per idle connection,
//! then the latency phase (one send at a time) and the sustained phase (back to back), and
//! checks that every acknowledged send reached every client once.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use qunfa_server::client::NimClient;
use roaring::RoaringBitmap;
use serde_json::json;
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::fleet::{Fleet, Shared, receive};
use super::{
    Accounts, connect_login, pct, raise_nofile, rss_kib, send_to_all, sorted, ws_endpoint,
};
use crate::cmd::{Ctx, Target};

#[derive(clap::Args)]
pub struct FanoutArgs {
    /// WebSocket clients to connect (one file descriptor each: stay under `ulimit -n`).
    #[arg(long, default_value_t = 1000)]
    clients: usize,
    /// Connections being opened and logged in at once. Each login runs two store reads; more
    /// than the server keeps SQLite readers for (8) makes it open more files, and next to
    /// 19,900 sockets that hits the open-file limit (logins answered 500).
    #[arg(long, default_value_t = 8)]
    connect_concurrency: usize,
    /// Latency phase: sendMsgToAll calls made one at a time, each waited for until every
    /// client has it (0: skip).
    #[arg(long, default_value_t = 20)]
    sends: usize,
    /// Sustained phase: seconds of back-to-back sendMsgToAll (0: skip).
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Sustained phase: sendMsgToAll calls not yet received by every client (HTTP call in
    /// flight or fan-out in progress). More lets the server batch more frames per write.
    #[arg(long, default_value_t = 64)]
    inflight: usize,
    /// Sustained phase: sendMsgToAll calls per second, paced (0: back to back, up to
    /// `--inflight` not yet received by all).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Sustained phase: point-to-point sendMsg calls per second mixed in, between two accounts
    /// no client watches (the two after the clients' accounts).
    #[arg(long, default_value_t = 0)]
    p2p_rate: u64,
    /// After the sustained phase, read the server's memory again this many seconds later
    /// (needs --server-pid): whether it gives back what the burst took.
    #[arg(long, default_value_t = 0)]
    rss_after: u64,
    /// The server's process id, to read its memory (VmRSS) before and after connecting.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Worker threads of the clients' runtime (the HTTP sender runs beside it).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Nodes the clients connect to, round robin (http://HOST:PORT; repeat for several):
    /// with sends going through `--url`, clients on other nodes measure cross-node delivery.
    /// Default: the `--url` node.
    #[arg(long = "client-url", value_name = "URL")]
    client_urls: Vec<String>,
    /// Send team messages into this team (msg/sendMsg ope=1, from --team-from) instead of
    /// sendMsgToAll: the clients must be its members (`qunfa bench team --members N`).
    #[arg(long, value_name = "TID")]
    team: Option<i64>,
    /// The sender of the team messages (a member; its own session gets them too).
    #[arg(long, default_value = "u0000000")]
    team_from: String,
    #[command(flatten)]
    accounts: Accounts,
    #[command(flatten)]
    target: Target,
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

pub async fn fanout(ctx: &Ctx, args: FanoutArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.clients > 0, "--clients must be at least 1");
    let nofile = raise_nofile();
    if (args.clients as u64) + 64 > nofile {
        eprintln!(
            "warning: {} clients need as many open files; this process may open {nofile}",
            args.clients
        );
    }
    let nim = args.target.client(ctx).await?;
    let (url, hostport) = ws_endpoint(&nim)?;
    let mut endpoints = Vec::new();
    for u in &args.client_urls {
        endpoints.push(ws_endpoint(&NimClient::new(u, nim.appkey(), ""))?);
    }
    if endpoints.is_empty() {
        endpoints.push((url.clone(), hostport.clone()));
    }
    let n = args.clients;
    let acc = &args.accounts;

    // A first send says whether the setup works, and gives the cursor the clients start from
    // (so they replay none of the app's history).
    let cursor = send_to_all(&nim, Some(&acc.accid(0))).await?;
    let server_pid = args.server_pid.map(|p| p.to_string());
    let rss_server_before = server_pid.as_deref().and_then(rss_kib);
    let rss_self_before = rss_kib("self");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .thread_name("bench-client")
        .enable_all()
        .build()
        .context("building the clients' runtime")?;
    let shared = Arc::new(Shared {
        base: Instant::now(),
        cursor,
        deliveries: AtomicU64::new(0),
        online: AtomicUsize::new(0),
        want: AtomicU64::new(u64::MAX),
        progress: Notify::new(),
        floor: AtomicI64::new(i64::MAX),
        round_count: AtomicUsize::new(0),
        round_first_ns: AtomicU64::new(u64::MAX),
        round_last_ns: AtomicU64::new(0),
        ended: Mutex::new(BTreeMap::new()),
        latencies: Mutex::new(Vec::new()),
    });
    let (stop, stop_rx) = watch::channel(false);
    let gate = Arc::new(Semaphore::new(args.connect_concurrency.max(1)));
    let config = WebSocketConfig::default()
        .read_buffer_size(acc.read_buffer)
        .write_buffer_size(0);
    let (logged, mut logins) = mpsc::unbounded_channel::<Result<f64, String>>();
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let login = json!({"op": "login", "appkey": nim.appkey(), "accid": acc.accid(i), "token": acc.token(i), "cursor": cursor}).to_string();
        let (url, hostport) = endpoints[i % endpoints.len()].clone();
        let (gate, shared, stop_rx, logged) = (
            gate.clone(),
            shared.clone(),
            stop_rx.clone(),
            logged.clone(),
        );
        tasks.push(runtime.spawn(async move {
            let t = Instant::now();
            let permit = gate.acquire_owned().await;
            let result = connect_login(&url, &hostport, config, login).await;
            drop(permit);
            match result {
                Ok((ws, _)) => {
                    shared.online.fetch_add(1, Ordering::Relaxed);
                    let _ = logged.send(Ok(t.elapsed().as_secs_f64() * 1000.0));
                    Some(receive(ws, shared, stop_rx, i % super::fleet::SAMPLE_EVERY == 0).await)
                }
                Err(e) => {
                    let _ = logged.send(Err(format!("{e:#}")));
                    None
                }
            }
        }));
    }
    drop(logged);
    let fleet = Fleet {
        runtime,
        tasks,
        stop,
    };
    let mut login_ms = Vec::with_capacity(n);
    let mut failures: BTreeMap<String, usize> = BTreeMap::new();
    // Each client reports once (and keeps its sender while it runs).
    for _ in 0..n {
        let Some(r) = logins.recv().await else { break };
        match r {
            Ok(t) => login_ms.push(t),
            Err(e) => *failures.entry(e).or_default() += 1,
        }
    }
    let connect_s = started.elapsed().as_secs_f64();
    let online = login_ms.len();
    let login_ms = sorted(login_ms);

    let at: Vec<&str> = endpoints.iter().map(|(u, _)| u.as_str()).collect();
    println!(
        "qunfa bench fanout: {n} WebSocket clients at {} (read buffer {} B, {} client thread(s)); sends through {url}",
        at.join(", "),
        acc.read_buffer,
        args.threads.max(1)
    );
    println!();
    println!("connect + login");
    println!(
        "  logged in        {online} of {n} in {connect_s:.2} s: {:.0} logins/s ({} at a time)",
        online as f64 / connect_s.max(1e-9),
        args.connect_concurrency
    );
    println!(
        "  per client (ms)  p50 {:.1}  p99 {:.1}  max {:.1} (queueing for a slot included)",
        pct(&login_ms, 50.0),
        pct(&login_ms, 99.0),
        login_ms.last().copied().unwrap_or(f64::NAN)
    );
    for (e, c) in &failures {
        println!("  failed ×{c}: {e}");
    }
    if online == 0 {
        fleet.stop().await;
        bail!("no client logged in");
    }

    // Idle memory: give the server a moment to settle, then read both sides.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_server_after = server_pid.as_deref().and_then(rss_kib);
    let rss_self_after = rss_kib("self");
    println!();
    println!("memory per idle connection (VmRSS after − before, / {online})");
    match (rss_server_before, rss_server_after) {
        (Some(b), Some(a)) => println!(
            "  server           {:.2} KB  ({:.1} MB → {:.1} MB)",
            (a as f64 - b as f64) * 1.024 / online as f64,
            b as f64 / 1024.0,
            a as f64 / 1024.0
        ),
        _ => println!("  server           not measured (give --server-pid)"),
    }
    if let (Some(b), Some(a)) = (rss_self_before, rss_self_after) {
        println!(
            "  bench client     {:.2} KB  ({:.1} MB → {:.1} MB)",
            (a as f64 - b as f64) * 1.024 / online as f64,
            b as f64 / 1024.0,
            a as f64 / 1024.0
        );
    }

    let mut acked: Vec<i64> = Vec::new();
    if args.sends > 0 {
        latency_phase(&nim, &shared, args.sends, post_to(&args), &mut acked).await?;
    }
    if args.duration > 0 {
        let before = server_pid.as_deref().and_then(rss_kib);
        sustained_phase(&nim, &shared, &args, &mut acked).await?;
        let after = server_pid.as_deref().and_then(rss_kib);
        if let (Some(b), Some(a)) = (before, after) {
            print!(
                "  server memory    {:.1} MB before the run, {:.1} MB right after",
                b as f64 / 1024.0,
                a as f64 / 1024.0
            );
            if args.rss_after > 0 {
                tokio::time::sleep(Duration::from_secs(args.rss_after)).await;
                if let Some(later) = server_pid.as_deref().and_then(rss_kib) {
                    print!(
                        ", {:.1} MB {} s later ({:.2}× before)",
                        later as f64 / 1024.0,
                        args.rss_after,
                        later as f64 / b as f64
                    );
                }
            }
            println!();
        }
    }

    let seen = fleet.stop().await;
    let sent: RoaringBitmap = acked
        .iter()
        .filter_map(|id| u32::try_from(id - cursor).ok())
        .collect();
    let (mut missing, mut short, mut dups) = (0u64, 0usize, 0u64);
    for s in &seen {
        let m = sent.difference_len(&s.ids);
        missing += m;
        short += usize::from(m > 0);
        dups += s.duplicates;
    }
    println!();
    println!(
        "loss check: {} acknowledged sends × {} logged-in clients",
        sent.len(),
        seen.len()
    );
    println!("  missing          {missing} deliveries, at {short} clients");
    println!("  duplicates       {dups}");
    let ended = shared
        .ended
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    if ended.is_empty() {
        println!("  ended by server  none");
    }
    for (how, c) in ended {
        println!("  ended by server  ×{c}: {how}");
    }
    Ok(())
}

/// The team the sends go into, and their sender (`--team`, `--team-from`).
fn post_to(args: &FanoutArgs) -> Option<(String, String)> {
    args.team.map(|t| (t.to_string(), args.team_from.clone()))
}

/// What the sends are, for the report.
fn what(team: bool) -> &'static str {
    if team { "team message" } else { "sendMsgToAll" }
}

/// One send: a sendMsgToAll to everyone, or a message into the team; `at` (ns since the
/// bench started) goes into the body, for the clients to time its delivery.
async fn post(
    nim: &NimClient,
    team: Option<&(String, String)>,
    at: Option<u64>,
) -> anyhow::Result<i64> {
    match (team, at) {
        (None, None) => send_to_all(nim, None).await,
        (None, Some(at)) => super::send_to_all_timed(nim, at).await,
        (Some((tid, from)), at) => {
            let timed;
            let body = match at {
                Some(t) => {
                    timed = serde_json::json!({"msg": "qunfa bench", "t": t}).to_string();
                    timed.as_str()
                }
                None => super::BODY,
            };
            let params = [
                ("from", from.as_str()),
                ("ope", "1"),
                ("to", tid.as_str()),
                ("type", "0"),
                ("body", body),
            ];
            super::msgid_from(nim.call("msg/sendMsg", &params).await?)
        }
    }
}

/// One sendMsgToAll at a time, each waited for until every online client has it.
async fn latency_phase(
    nim: &NimClient,
    shared: &Shared,
    sends: usize,
    team: Option<(String, String)>,
    acked: &mut Vec<i64>,
) -> anyhow::Result<()> {
    let (mut first, mut last, mut answer) = (Vec::new(), Vec::new(), Vec::new());
    let mut floor = shared.cursor;
    let mut incomplete = 0usize;
    for _ in 0..sends {
        let online = shared.online.load(Ordering::Relaxed);
        shared.round_count.store(0, Ordering::Relaxed);
        shared.round_first_ns.store(u64::MAX, Ordering::Relaxed);
        shared.round_last_ns.store(0, Ordering::Relaxed);
        shared.floor.store(floor, Ordering::Relaxed);
        let before = shared.deliveries.load(Ordering::Relaxed);
        let t0 = shared.base.elapsed().as_nanos() as u64;
        let msgid = post(nim, team.as_ref(), None).await?;
        let t_answer = shared.base.elapsed().as_nanos() as u64;
        acked.push(msgid);
        floor = msgid;
        let complete = shared
            .wait_deliveries(before + online as u64, Duration::from_secs(5))
            .await;
        shared.floor.store(i64::MAX, Ordering::Relaxed);
        if !complete || shared.round_count.load(Ordering::Relaxed) < online {
            incomplete += 1;
            continue;
        }
        first.push(ms(shared
            .round_first_ns
            .load(Ordering::Relaxed)
            .saturating_sub(t0)));
        last.push(ms(shared
            .round_last_ns
            .load(Ordering::Relaxed)
            .saturating_sub(t0)));
        answer.push(ms(t_answer - t0));
        // Let the sockets drain before the next round.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (first, last, answer) = (sorted(first), sorted(last), sorted(answer));
    println!();
    println!(
        "one {} at a time to {} online clients ({sends} sends; ms after the call started)",
        what(team.is_some()),
        shared.online.load(Ordering::Relaxed)
    );
    println!(
        "  {:<18}{:>9}{:>9}{:>9}{:>9}",
        "", "p50", "p99", "min", "max"
    );
    for (label, v) in [
        ("HTTP answer", &answer),
        ("first delivery", &first),
        ("last delivery", &last),
    ] {
        println!(
            "  {label:<18}{:>9.1}{:>9.1}{:>9.1}{:>9.1}",
            pct(v, 50.0),
            pct(v, 99.0),
            v.first().copied().unwrap_or(f64::NAN),
            v.last().copied().unwrap_or(f64::NAN)
        );
    }
    if incomplete > 0 {
        println!(
            "  {incomplete} send(s) did not reach every client within 5 s of quiet (not timed)"
        );
    }
    Ok(())
}

/// Back-to-back sendMsgToAll for `--duration` seconds, at most `--inflight` not yet received
/// by every client; deliveries counted per second.
async fn sustained_phase(
    nim: &NimClient,
    shared: &Arc<Shared>,
    args: &FanoutArgs,
    acked: &mut Vec<i64>,
) -> anyhow::Result<()> {
    let window = args.inflight.max(1) as u64;
    let online = shared.online.load(Ordering::Relaxed) as u64;
    let start_deliveries = shared.deliveries.load(Ordering::Relaxed);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.duration);

    // Deliveries per second, sampled by a task of its own.
    let sampler = {
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut rates = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            let mut prev = shared.deliveries.load(Ordering::Relaxed);
            loop {
                tick.tick().await;
                let now = shared.deliveries.load(Ordering::Relaxed);
                rates.push(now - prev);
                prev = now;
                if Instant::now() >= deadline {
                    return rates;
                }
            }
        })
    };

    // Point-to-point load mixed in, between two accounts no client watches.
    let p2p = (args.p2p_rate > 0).then(|| {
        let nim = nim.clone();
        let (from, to) = (
            args.accounts.accid(args.clients),
            args.accounts.accid(args.clients + 1),
        );
        let every = Duration::from_secs_f64(1.0 / args.p2p_rate as f64);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
            let mut calls = Vec::new();
            while Instant::now() < deadline {
                tick.tick().await;
                let (nim, from, to, ok, failed) = (
                    nim.clone(),
                    from.clone(),
                    to.clone(),
                    ok.clone(),
                    failed.clone(),
                );
                calls.push(tokio::spawn(async move {
                    let params = [
                        ("from", from.as_str()),
                        ("ope", "0"),
                        ("to", to.as_str()),
                        ("type", "0"),
                        ("body", r#"{"msg":"p2p"}"#),
                    ];
                    match nim.call("msg/sendMsg", &params).await {
                        Ok(v) if v["code"] == 200 => ok.fetch_add(1, Ordering::Relaxed),
                        _ => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }));
            }
            for c in calls {
                let _ = c.await;
            }
            (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed))
        })
    });
    shared
        .latencies
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();

    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(Result<i64, String>, f64)>();
    let mut answer_ms = Vec::new();
    let mut started_calls = 0u64;
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    let mut stalled = false;
    while Instant::now() < deadline {
        if args.rate > 0 {
            let due = started + Duration::from_secs_f64(started_calls as f64 / args.rate as f64);
            tokio::time::sleep_until(due.into()).await;
            if Instant::now() >= deadline {
                break;
            }
        }
        // The window: call k may start once call k − window reached every client.
        if started_calls >= window {
            let need = start_deliveries + (started_calls + 1 - window) * online;
            if !shared.wait_deliveries(need, Duration::from_secs(5)).await {
                stalled = true;
                break;
            }
        }
        while let Ok((r, t)) = done_rx.try_recv() {
            answer_ms.push(t);
            match r {
                Ok(id) => acked.push(id),
                Err(e) => *errors.entry(e).or_default() += 1,
            }
        }
        if !errors.is_empty() {
            break;
        }
        started_calls += 1;
        let (nim, done_tx, team) = (nim.clone(), done_tx.clone(), post_to(args));
        let at = shared.base.elapsed().as_nanos() as u64;
        tokio::spawn(async move {
            let t = Instant::now();
            let r = post(&nim, team.as_ref(), Some(at))
                .await
                .map_err(|e| format!("{e:#}"));
            let _ = done_tx.send((r, t.elapsed().as_secs_f64() * 1000.0));
        });
    }
    let send_window = started.elapsed().as_secs_f64();
    drop(done_tx);
    while let Some((r, t)) = done_rx.recv().await {
        answer_ms.push(t);
        match r {
            Ok(id) => acked.push(id),
            Err(e) => *errors.entry(e).or_default() += 1,
        }
    }
    let calls_ok = started_calls - errors.values().sum::<usize>() as u64;
    let expected = start_deliveries + calls_ok * online;
    let drained = shared
        .wait_deliveries(expected, Duration::from_secs(5))
        .await;
    let total = shared.deliveries.load(Ordering::Relaxed) - start_deliveries;
    let all_s = started.elapsed().as_secs_f64();
    let rates = sampler.await.unwrap_or_default();
    let per_s = sorted(rates.iter().map(|&r| r as f64).collect());

    let p2p = match p2p {
        Some(t) => Some(t.await.unwrap_or_default()),
        None => None,
    };
    println!();
    let pace = if args.rate > 0 {
        format!("at {}/s", args.rate)
    } else {
        "back to back".to_owned()
    };
    println!(
        "sustained: {} {pace} for {} s to {online} clients, at most {window} not yet received by all",
        what(args.team.is_some()),
        args.duration
    );
    if let Some((ok, failed)) = p2p {
        println!(
            "  mixed in         {ok} sendMsg between two unwatched accounts ({:.1}/s), {failed} failed",
            ok as f64 / args.duration.max(1) as f64
        );
    }
    println!(
        "  sends            {calls_ok} acknowledged ({:.1}/s){}",
        calls_ok as f64 / send_window.max(1e-9),
        if stalled {
            " — stopped early: deliveries stalled for 5 s"
        } else {
            ""
        }
    );
    for (e, c) in &errors {
        println!("  send failed ×{c}: {e}");
    }
    let answer_ms = sorted(answer_ms);
    println!(
        "  HTTP answer (ms) p50 {:.1}  p99 {:.1}  max {:.1}",
        pct(&answer_ms, 50.0),
        pct(&answer_ms, 99.0),
        answer_ms.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "  deliveries       {total} of {} expected{}",
        calls_ok * online,
        if drained { "" } else { " (not all arrived)" }
    );
    println!(
        "  throughput       {:.0} deliveries/s (first send to last delivery, {all_s:.2} s)",
        total as f64 / all_s.max(1e-9)
    );
    println!(
        "  per second       p50 {:.0}  min {:.0}  max {:.0}  ({} one-second samples)",
        pct(&per_s, 50.0),
        per_s.first().copied().unwrap_or(f64::NAN),
        per_s.last().copied().unwrap_or(f64::NAN),
        per_s.len()
    );
    let shown: Vec<String> = rates.iter().map(|r| format!("{r}")).collect();
    println!("  samples          {}", shown.join(" "));
    let lat = sorted(
        shared
            .latencies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|&ns| ms(ns))
            .collect(),
    );
    println!(
        "  latency (ms)     p50 {:.1}  p99 {:.1}  max {:.1}  (send start to delivery, {} deliveries to one client in {})",
        pct(&lat, 50.0),
        pct(&lat, 99.0),
        lat.last().copied().unwrap_or(f64::NAN),
        lat.len(),
        super::fleet::SAMPLE_EVERY
    );
    Ok(())
}
