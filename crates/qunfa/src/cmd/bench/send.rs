//! `qunfa bench send`: the HTTP load generator. Signed msg/sendMsgToAll or msg/sendMsg calls, a
//! few in flight, timed by the client and by the server's `Server-Timing` header.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use qunfa_server::api::timing::{SERVER_TIMING, parse_app_dur};
use qunfa_server::client::NimClient;
use serde_json::Value;

use crate::cmd::{Ctx, Target};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Endpoint {
    /// msg/sendMsgToAll: one targeted message (stored once, audience fixed at send time).
    #[value(name = "sendMsgToAll")]
    SendMsgToAll,
    /// msg/sendMsg: one point-to-point message.
    #[value(name = "sendMsg")]
    SendMsg,
    /// msg/sendMsg ope=1: one message into the team --tid (from --from, a member).
    #[value(name = "teamMsg")]
    TeamMsg,
    /// team/getMarkReadInfo of --msgid in --tid (sent by --from; see `bench team --readers`).
    #[value(name = "markReadInfo")]
    MarkReadInfo,
}

#[derive(clap::Args)]
pub struct SendArgs {
    #[arg(long, value_enum, default_value = "sendMsgToAll")]
    endpoint: Endpoint,
    /// Calls measured (after the warm-up).
    #[arg(long, default_value_t = 1000)]
    requests: u64,
    /// Calls in flight at once.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Calls started per second, paced (0: as fast as `--concurrency` allows). With a rate,
    /// the calls are a steady load beside another benchmark (`--rate 100 --requests 1200`:
    /// 100 sendMsg calls/s for 12 s next to a fan-out run).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Calls made before measuring, not counted (the first one may build the app's index).
    #[arg(long, default_value_t = 20)]
    warmup: u64,
    /// sendMsgToAll: only these areas (comma-separated, e.g. p01), with their sub-areas.
    #[arg(long)]
    areaid: Option<String>,
    /// sendMsgToAll: only these enterprise types (comma-separated, e.g. t01).
    #[arg(long)]
    enterptypeid: Option<String>,
    /// sendMsgToAll: an explicit list of the first N generated users (u0000000, u0000001, …).
    #[arg(long, value_name = "N")]
    to_accids: Option<usize>,
    /// Sender (sendMsg default: u0000000; sendMsgToAll default: the app's system account).
    #[arg(long)]
    from: Option<String>,
    /// sendMsg: the recipient.
    #[arg(long, default_value = "u0000001")]
    to: String,
    /// teamMsg, markReadInfo: the team (`qunfa bench team` prints it).
    #[arg(long)]
    tid: Option<i64>,
    /// markReadInfo: the message.
    #[arg(long)]
    msgid: Option<i64>,
    /// markReadInfo: answer the reader and non-reader accids too (snapshot=true).
    #[arg(long)]
    snapshot: bool,
    /// Also write every measured call to this CSV file (start_ms,client_ms,server_ms,outcome).
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    #[command(flatten)]
    target: Target,
}

const RATE_LIMIT_HINT: &str = "416 is the server's rate limit (100 calls/s per app and API group by default): \
     run the server with QUNFA_RATE_LIMITS__ENABLED=false (or rate_limits.enabled = false) to benchmark it";

/// Form parameters, in order.
type Form = Vec<(String, String)>;

/// The endpoint, its form parameters, and a one-line description of the selection.
fn plan(args: &SendArgs) -> anyhow::Result<(&'static str, Form, String)> {
    let mut params: Form = vec![
        ("type".into(), "0".into()),
        ("body".into(), r#"{"msg":"qunfa bench send"}"#.into()),
    ];
    match args.endpoint {
        Endpoint::SendMsg => {
            if args.areaid.is_some() || args.enterptypeid.is_some() || args.to_accids.is_some() {
                bail!("--areaid, --enterptypeid and --to-accids select a sendMsgToAll audience");
            }
            let from = args.from.clone().unwrap_or_else(|| "u0000000".into());
            let what = format!("from {from} to {}", args.to);
            params.push(("from".into(), from));
            params.push(("ope".into(), "0".into()));
            params.push(("to".into(), args.to.clone()));
            Ok(("msg/sendMsg", params, what))
        }
        Endpoint::TeamMsg | Endpoint::MarkReadInfo => {
            let tid = args
                .tid
                .context("--tid names the team (qunfa bench team prints it)")?;
            let from = args.from.clone().unwrap_or_else(|| "u0000000".into());
            if args.endpoint == Endpoint::TeamMsg {
                params.push(("from".into(), from.clone()));
                params.push(("ope".into(), "1".into()));
                params.push(("to".into(), tid.to_string()));
                return Ok((
                    "msg/sendMsg",
                    params,
                    format!("from {from} into team {tid}"),
                ));
            }
            let msgid = args.msgid.context("--msgid names the message")?;
            let params: Form = vec![
                ("tid".into(), tid.to_string()),
                ("msgid".into(), msgid.to_string()),
                ("fromAccid".into(), from),
                ("snapshot".into(), args.snapshot.to_string()),
            ];
            Ok((
                "team/getMarkReadInfo",
                params,
                format!("message {msgid} of team {tid}"),
            ))
        }
        Endpoint::SendMsgToAll => {
            let mut what = Vec::new();
            if let Some(a) = &args.areaid {
                what.push(format!("areaid={a}"));
                params.push(("areaid".into(), a.clone()));
            }
            if let Some(t) = &args.enterptypeid {
                what.push(format!("enterptypeid={t}"));
                params.push(("enterptypeid".into(), t.clone()));
            }
            if let Some(n) = args.to_accids {
                anyhow::ensure!(n > 0, "--to-accids must be at least 1");
                let list: Vec<String> = (0..n).map(|i| format!("u{i:07}")).collect();
                what.push(format!("toAccids=[{n} accounts]"));
                params.push(("toAccids".into(), serde_json::to_string(&list)?));
            }
            if let Some(f) = &args.from {
                what.push(format!("from={f}"));
                params.push(("from".into(), f.clone()));
            }
            if what.is_empty() {
                what.push("all accounts".into());
            }
            Ok(("msg/sendMsgToAll", params, what.join(", ")))
        }
    }
}

/// How one call ended.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// The answer's JSON `code`.
    Code(u64),
    Http(u16),
    Transport,
    NotJson,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Code(c) => write!(f, "code {c}"),
            Outcome::Http(s) => write!(f, "HTTP {s}"),
            Outcome::Transport => f.write_str("transport error"),
            Outcome::NotJson => f.write_str("answer not JSON"),
        }
    }
}

struct Sample {
    /// When the call started, in ms after the measurement began.
    start_ms: f64,
    outcome: Outcome,
    /// Client-observed, request built to answer read, in ms.
    client_ms: f64,
    /// From the `Server-Timing` header, in ms.
    server_ms: Option<f64>,
}

/// One freshly signed call (a new Nonce each time), with the answer when there is one.
async fn call_once(
    http: &reqwest::Client,
    nim: &NimClient,
    url: &str,
    body: &[u8],
) -> (Sample, Option<Value>) {
    let started = Instant::now();
    let mut req = http
        .post(url)
        .header(
            "Content-Type",
            "application/x-www-form-urlencoded;charset=utf-8",
        )
        .body(body.to_vec());
    for (k, v) in nim.sign() {
        req = req.header(k, v);
    }
    let (outcome, server_ms, answer) = match req.send().await {
        Err(e) => {
            tracing::debug!(error = %e, "call failed");
            (Outcome::Transport, None, None)
        }
        Ok(resp) => {
            let status = resp.status();
            let server_ms = resp
                .headers()
                .get(SERVER_TIMING)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_app_dur);
            match resp.bytes().await {
                Err(_) => (Outcome::Transport, server_ms, None),
                Ok(_) if !status.is_success() => (Outcome::Http(status.as_u16()), server_ms, None),
                Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
                    Ok(v) => match v["code"].as_u64() {
                        Some(c) => (Outcome::Code(c), server_ms, Some(v)),
                        None => (Outcome::NotJson, server_ms, Some(v)),
                    },
                    Err(_) => (Outcome::NotJson, server_ms, None),
                },
            }
        }
    };
    let client_ms = started.elapsed().as_secs_f64() * 1000.0;
    (
        Sample {
            start_ms: 0.0,
            outcome,
            client_ms,
            server_ms,
        },
        answer,
    )
}

fn write_csv(path: &std::path::Path, samples: &mut [Sample]) -> anyhow::Result<()> {
    samples.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
    let mut out = BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
    );
    writeln!(out, "start_ms,client_ms,server_ms,outcome")?;
    for s in samples.iter() {
        let server = s.server_ms.map(|v| format!("{v:.3}")).unwrap_or_default();
        writeln!(
            out,
            "{:.3},{:.3},{server},{}",
            s.start_ms, s.client_ms, s.outcome
        )?;
    }
    out.flush()?;
    Ok(())
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn quantiles_row(label: &str, mut v: Vec<f64>) -> String {
    v.sort_by(f64::total_cmp);
    format!(
        "  {label:<14}{:>10.3}{:>10.3}{:>10.3}{:>10.3}{:>10.3}",
        percentile(&v, 50.0),
        percentile(&v, 90.0),
        percentile(&v, 99.0),
        v.last().copied().unwrap_or(f64::NAN),
        v.iter().sum::<f64>() / v.len().max(1) as f64,
    )
}

pub(super) async fn send(ctx: &Ctx, args: SendArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.requests > 0, "--requests must be at least 1");
    let concurrency = args.concurrency.max(1);
    let nim = args.target.client(ctx).await?;
    let (endpoint, params, what) = plan(&args)?;
    let url = nim.url(endpoint);
    qunfa_server::tls::install();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(concurrency)
        .build()
        .context("building the HTTP client")?;
    // Encoded once; every call sends the same bytes with fresh signature headers.
    let body: Arc<[u8]> = http
        .post(&url)
        .form(&params)
        .build()
        .context("encoding the form")?
        .body()
        .and_then(|b| b.as_bytes())
        .context("form body not buffered")?
        .into();

    // The first call says whether the setup works, and how big the audience is.
    let (first, answer) = call_once(&http, &nim, &url, &body).await;
    if first.outcome != Outcome::Code(200) {
        let shown = answer.map_or_else(|| first.outcome.to_string(), |a| a.to_string());
        if first.outcome == Outcome::Code(416) {
            bail!("{endpoint} answered {shown}\n{RATE_LIMIT_HINT}");
        }
        bail!("{endpoint} at {url} answered {shown}");
    }
    let recipients = answer
        .as_ref()
        .and_then(|a| a["data"]["recipients"].as_u64());
    for _ in 1..args.warmup {
        call_once(&http, &nim, &url, &body).await;
    }

    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (http, nim, url, body, next) = (
            http.clone(),
            nim.clone(),
            url.clone(),
            body.clone(),
            next.clone(),
        );
        let (total, rate) = (args.requests, args.rate);
        workers.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                if rate > 0 {
                    let due = started + Duration::from_secs_f64(i as f64 / rate as f64);
                    tokio::time::sleep_until(due.into()).await;
                }
                let start_ms = started.elapsed().as_secs_f64() * 1000.0;
                let (sample, _) = call_once(&http, &nim, &url, &body).await;
                samples.push(Sample { start_ms, ..sample });
            }
            samples
        }));
    }
    let mut samples = Vec::with_capacity(args.requests as usize);
    for w in workers {
        samples.extend(w.await.context("bench worker failed")?);
    }
    let wall = started.elapsed().as_secs_f64();
    if let Some(path) = &args.csv {
        write_csv(path, &mut samples)?;
    }

    let mut outcomes: BTreeMap<Outcome, u64> = BTreeMap::new();
    for s in &samples {
        *outcomes.entry(s.outcome.clone()).or_default() += 1;
    }
    let ok = outcomes.get(&Outcome::Code(200)).copied().unwrap_or(0);
    let errors = samples.len() as u64 - ok;
    let n = samples.len();

    println!("qunfa bench send: {endpoint} ({what}) at {url}");
    if let Some(r) = recipients {
        println!("  audience      {r} recipients per message");
    }
    println!(
        "  first call    {:.3} ms (may include building the app's audience index)",
        first.client_ms
    );
    let paced = match args.rate {
        0 => String::new(),
        r => format!(", paced at {r}/s"),
    };
    println!(
        "  requests      {n} measured, concurrency {concurrency}{paced}, after {} warm-up",
        args.warmup.max(1)
    );
    if errors == 0 {
        println!("  errors        0 (all {ok} answered code 200)");
    } else {
        let by: Vec<String> = outcomes
            .iter()
            .filter(|(o, _)| **o != Outcome::Code(200))
            .map(|(o, c)| format!("{o} ×{c}"))
            .collect();
        println!(
            "  errors        {errors} ({}); {ok} answered code 200",
            by.join(", ")
        );
    }
    println!("  wall time     {wall:.3} s");
    println!("  throughput    {:.0} req/s", n as f64 / wall.max(1e-9));
    println!();
    // Latency of the calls that did the work; refusals (416 above all) answer early.
    let timed: Vec<&Sample> = if ok > 0 {
        samples
            .iter()
            .filter(|s| s.outcome == Outcome::Code(200))
            .collect()
    } else {
        samples.iter().collect()
    };
    let of_what = if errors > 0 && ok > 0 {
        format!(" of the {ok} code-200 answers")
    } else {
        String::new()
    };
    println!(
        "  {:<14}{:>10}{:>10}{:>10}{:>10}{:>10}",
        "latency (ms)", "p50", "p90", "p99", "max", "mean"
    );
    println!(
        "{}",
        quantiles_row("client", timed.iter().map(|s| s.client_ms).collect())
    );
    let server: Vec<f64> = timed.iter().filter_map(|s| s.server_ms).collect();
    if server.is_empty() {
        println!("  server        (no Server-Timing header in the answers)");
    } else {
        let carried = server.len();
        println!("{}", quantiles_row("server", server));
        if carried < timed.len() {
            println!(
                "  ({carried} of {} answers carried Server-Timing)",
                timed.len()
            );
        }
    }
    if !of_what.is_empty() {
        println!("  (latency{of_what})");
    }
    if outcomes.contains_key(&Outcome::Code(416)) {
        println!();
        println!("note: {RATE_LIMIT_HINT}");
    }
    Ok(())
}
