//! `qunfa import users|areas|enterptypes FILE.csv`: bulk loading through the signed API, so it
//! works against any qunfa (local or remote, any backend) and keeps the server's indexes right.
//!
//! Users go in `user/batchCreate` calls of up to 1,000, a few in flight, throttled under the
//! rate limit. Progress is recorded in `FILE.progress` after each batch commits, so a re-run
//! resumes where the last one stopped; accounts that already exist are counted, not failed,
//! so re-running a finished import changes nothing.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use qunfa_core::account::SETTABLE_FIELDS;
use qunfa_server::client::NimClient;
use serde_json::{Map, Value, json};

use super::{Ctx, Target};

#[derive(Subcommand)]
pub enum ImportCmd {
    /// Accounts: CSV with a header naming accid and any of token, name, icon, sign, email,
    /// birth, mobile, gender, ex, props, areaid, enterptypeid.
    Users {
        file: PathBuf,
        /// Accounts per batchCreate call (≤ 1000).
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// Calls in flight at once.
        #[arg(long, default_value_t = 2)]
        parallel: usize,
        /// Most calls per second (keep under the server's rate limit for the user group).
        #[arg(long, default_value_t = 50)]
        max_calls_per_sec: u32,
        /// Ignore FILE.progress and start from the first row.
        #[arg(long)]
        restart: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Areas: CSV with header areaid,name,parentid (parents may come after children).
    Areas {
        file: PathBuf,
        #[command(flatten)]
        target: Target,
    },
    /// Enterprise types: CSV with header enterptypeid,name.
    Enterptypes {
        file: PathBuf,
        #[command(flatten)]
        target: Target,
    },
}

pub async fn run(ctx: &Ctx, cmd: ImportCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        ImportCmd::Users {
            file,
            batch,
            parallel,
            max_calls_per_sec,
            restart,
            target,
        } => {
            anyhow::ensure!((1..=1000).contains(&batch), "--batch must be 1 to 1000");
            let client = target.client(ctx).await?;
            let opts = UserImport {
                batch,
                parallel: parallel.max(1),
                max_calls_per_sec: max_calls_per_sec.max(1),
                restart,
            };
            import_users(&client, &file, &opts).await
        }
        ImportCmd::Areas { file, target } => import_areas(&target.client(ctx).await?, &file).await,
        ImportCmd::Enterptypes { file, target } => {
            import_enterptypes(&target.client(ctx).await?, &file).await
        }
    }
}

fn sibling(file: &Path, suffix: &str) -> PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn progress_bar(total: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(total);
    let style = ProgressStyle::with_template(&format!(
        "{what} {{bar:40.cyan/blue}} {{pos}}/{{len}} ({{per_sec}}, eta {{eta}})"
    ))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    pb.set_style(style);
    pb
}

/// Progress lines for logs when stderr is not a terminal (indicatif then draws nothing).
struct LogProgress {
    last: Instant,
    start: Instant,
    enabled: bool,
}

impl LogProgress {
    fn new() -> Self {
        LogProgress {
            last: Instant::now(),
            start: Instant::now(),
            enabled: !std::io::stderr().is_terminal(),
        }
    }
    fn tick(&mut self, done: u64, total: u64) {
        if self.enabled && self.last.elapsed() >= Duration::from_secs(5) {
            self.last = Instant::now();
            let rate = done as f64 / self.start.elapsed().as_secs_f64().max(1e-9);
            eprintln!("imported {done}/{total} rows ({rate:.0}/s)");
        }
    }
}

struct UserImport {
    batch: usize,
    parallel: usize,
    max_calls_per_sec: u32,
    restart: bool,
}

#[derive(Default)]
struct Tally {
    created: u64,
    existed: u64,
    failed: u64,
}

/// One batch's rows: (row number, account object).
type Rows = Vec<(u64, Map<String, Value>)>;

/// Batches sent and not yet settled, oldest first, each with its last row number.
type InFlight = VecDeque<(u64, tokio::task::JoinHandle<anyhow::Result<(Rows, Value)>>)>;

async fn import_users(
    client: &NimClient,
    file: &Path,
    opts: &UserImport,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let total = count_rows(file)?;
    let progress_path = sibling(file, ".progress");
    let tokens_path = sibling(file, ".tokens.csv");
    let errors_path = sibling(file, ".errors.csv");
    let done_before: u64 = if opts.restart {
        0
    } else {
        match std::fs::read_to_string(&progress_path) {
            Ok(s) => s
                .trim()
                .parse()
                .with_context(|| format!("{} is corrupt", progress_path.display()))?,
            Err(_) => 0,
        }
    };
    if done_before > 0 {
        eprintln!(
            "resuming after row {done_before} (from {}; --restart to start over)",
            progress_path.display()
        );
    }
    // Tokens qunfa generated for rows without one, recorded before they are sent, so a resumed
    // import re-sends the same token for a batch whose answer was lost, and `--restart` keeps
    // the tokens already stored instead of replacing the file with ones the server refused.
    let mut pending_tokens: HashMap<u64, String> = HashMap::new();
    if tokens_path.exists() {
        let mut r = csv::Reader::from_path(&tokens_path)?;
        for rec in r.records() {
            let rec = rec?;
            if let (Some(row), Some(token)) =
                (rec.get(0).and_then(|r| r.parse::<u64>().ok()), rec.get(2))
                && row > done_before
            {
                pending_tokens.insert(row, token.to_owned());
            }
        }
    }
    let tokens_new = !tokens_path.exists() || opts.restart;
    let mut tokens = OpenOptions::new()
        .create(true)
        .append(!opts.restart)
        .write(true)
        .truncate(opts.restart)
        .open(&tokens_path)?;
    if tokens_new {
        writeln!(tokens, "row,accid,token")?;
    }
    let mut errors = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&errors_path)?;

    let mut reader =
        csv::Reader::from_path(file).with_context(|| format!("opening {}", file.display()))?;
    let headers: Vec<String> = reader
        .headers()?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    for h in &headers {
        if h != "accid" && h != "token" && !SETTABLE_FIELDS.contains(&h.as_str()) {
            bail!(
                "{}: unknown column {h:?} (known: accid, token, {})",
                file.display(),
                SETTABLE_FIELDS.join(", ")
            );
        }
    }
    anyhow::ensure!(
        headers.iter().any(|h| h == "accid"),
        "{}: no accid column",
        file.display()
    );
    let has_token = headers.iter().any(|h| h == "token");

    let pb = progress_bar(total, "users");
    pb.set_position(done_before.min(total));
    let mut log = LogProgress::new();
    let mut tally = Tally::default();
    let mut inflight = InFlight::new();
    let mut generated: u64 = 0;
    let mut pace = tokio::time::interval(Duration::from_secs_f64(
        1.0 / f64::from(opts.max_calls_per_sec),
    ));
    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut records = reader.records();
    let mut row: u64 = 0;
    loop {
        let mut batch: Rows = Vec::with_capacity(opts.batch);
        for rec in records.by_ref() {
            row += 1;
            let rec = rec.with_context(|| format!("{} row {row}", file.display()))?;
            if row <= done_before {
                continue;
            }
            let mut obj = Map::new();
            for (h, v) in headers.iter().zip(rec.iter()) {
                if !v.is_empty() {
                    obj.insert(h.clone(), Value::String(v.to_owned()));
                }
            }
            if !has_token || !obj.contains_key("token") {
                let token = pending_tokens
                    .remove(&row)
                    .unwrap_or_else(|| qunfa_core::random_hex(16));
                let accid = obj.get("accid").and_then(Value::as_str).unwrap_or("");
                writeln!(tokens, "{row},{},{token}", accid.to_ascii_lowercase())?;
                generated += 1;
                obj.insert("token".into(), Value::String(token));
            }
            batch.push((row, obj));
            if batch.len() == opts.batch {
                break;
            }
        }
        if batch.is_empty() {
            break;
        }
        tokens.flush()?;
        pace.tick().await;
        let last_row = batch.last().map(|(r, _)| *r).unwrap_or(row);
        let c = client.clone();
        inflight.push_back((
            last_row,
            tokio::spawn(async move { send_batch(&c, batch).await }),
        ));
        while inflight.len() >= opts.parallel {
            settle(
                &mut inflight,
                &mut tally,
                &mut errors,
                &progress_path,
                &pb,
                &mut log,
                total,
            )
            .await?;
        }
    }
    while !inflight.is_empty() {
        settle(
            &mut inflight,
            &mut tally,
            &mut errors,
            &progress_path,
            &pb,
            &mut log,
            total,
        )
        .await?;
    }
    pb.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    let processed = tally.created + tally.existed + tally.failed;
    println!(
        "imported {} rows in {secs:.1} s ({:.0} rows/s): {} created, {} already existed, {} failed",
        processed,
        processed as f64 / secs.max(1e-9),
        tally.created,
        tally.existed,
        tally.failed
    );
    if generated > 0 {
        println!(
            "{generated} rows had no token; the tokens qunfa generated are in {}",
            tokens_path.display()
        );
    }
    if tally.failed > 0 {
        println!("failures, one per row: {}", errors_path.display());
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Waits for the oldest batch, records its results, and moves the progress mark past it.
async fn settle(
    inflight: &mut InFlight,
    tally: &mut Tally,
    errors: &mut File,
    progress_path: &Path,
    pb: &ProgressBar,
    log: &mut LogProgress,
    total: u64,
) -> anyhow::Result<()> {
    let Some((last_row, handle)) = inflight.pop_front() else {
        return Ok(());
    };
    let (rows, answer) = handle.await.context("import task failed")??;
    let results = answer["data"]["results"]
        .as_array()
        .context("batchCreate answered without data.results")?;
    anyhow::ensure!(
        results.len() == rows.len(),
        "batchCreate answered {} results for {} rows",
        results.len(),
        rows.len()
    );
    for ((row, obj), r) in rows.iter().zip(results) {
        match (r["code"].as_u64(), r["desc"].as_str()) {
            (Some(200), _) => tally.created += 1,
            (_, Some("already register")) => tally.existed += 1,
            (code, desc) => {
                tally.failed += 1;
                let accid = obj.get("accid").and_then(Value::as_str).unwrap_or("");
                let desc = desc.unwrap_or("").replace('"', "'");
                writeln!(errors, "{row},{accid},{},\"{desc}\"", code.unwrap_or(0))?;
                if tally.failed <= 10 {
                    pb.println(format!("row {row} ({accid}): {} {desc}", code.unwrap_or(0)));
                }
            }
        }
    }
    errors.flush()?;
    let tmp = sibling(progress_path, ".tmp");
    std::fs::write(&tmp, format!("{last_row}\n"))?;
    std::fs::rename(&tmp, progress_path)?;
    pb.set_position(last_row.min(total));
    log.tick(last_row, total);
    Ok(())
}

/// One batchCreate call, retried through rate limiting and passing faults.
async fn send_batch(client: &NimClient, rows: Rows) -> anyhow::Result<(Rows, Value)> {
    let users: Vec<Value> = rows.iter().map(|(_, o)| Value::Object(o.clone())).collect();
    let body = json!({ "users": users });
    let mut delay = Duration::from_millis(250);
    for attempt in 1..=10 {
        let outcome = client.call_json("user/batchCreate", &body).await;
        match outcome {
            Ok(answer) if answer["code"] == 200 => return Ok((rows, answer)),
            Ok(answer)
                if matches!(answer["code"].as_u64(), Some(416 | 500 | 503)) && attempt < 10 =>
            {
                tracing::debug!(attempt, answer = %answer, "batch refused, retrying");
            }
            Ok(answer) => bail!("batchCreate failed: {answer}"),
            Err(e) if attempt < 10 => {
                tracing::debug!(attempt, error = %e, "batch failed, retrying")
            }
            Err(e) => return Err(e),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(15));
    }
    bail!("batchCreate kept failing")
}

fn count_rows(file: &Path) -> anyhow::Result<u64> {
    let f = File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let mut r = BufReader::with_capacity(1 << 20, f);
    let mut n: u64 = 0;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        n += buf.iter().filter(|&&b| b == b'\n').count() as u64;
        let len = buf.len();
        r.consume(len);
    }
    Ok(n.saturating_sub(1))
}

/// Calls per second the dictionary imports make: half the server's default limit per group.
const DIC_CALLS_PER_SEC: u32 = 50;

fn dic_pace() -> tokio::time::Interval {
    let mut pace = tokio::time::interval(Duration::from_secs(1) / DIC_CALLS_PER_SEC);
    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    pace
}

/// One dictionary call, paced under the rate limit and retried while it answers 416 (a server
/// with a lower limit, or other clients of the same app).
async fn dic_call(
    client: &NimClient,
    pace: &mut tokio::time::Interval,
    endpoint: &str,
    params: &[(&str, &str)],
) -> anyhow::Result<Value> {
    let mut delay = Duration::from_millis(250);
    for _ in 1..10 {
        pace.tick().await;
        let answer = client.call(endpoint, params).await?;
        if answer["code"] != 416 {
            return Ok(answer);
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(15));
    }
    pace.tick().await;
    client.call(endpoint, params).await
}

/// Creates an entry, or updates it when it exists: re-running an import is harmless.
async fn upsert(
    client: &NimClient,
    pace: &mut tokio::time::Interval,
    kind: &str,
    params: &[(&str, &str)],
) -> anyhow::Result<&'static str> {
    let a = dic_call(client, pace, &format!("dic/create{kind}"), params).await?;
    if a["code"] == 200 {
        return Ok("created");
    }
    if a["code"] == 414
        && a["desc"]
            .as_str()
            .is_some_and(|d| d.ends_with("already exists"))
    {
        let u = dic_call(client, pace, &format!("dic/update{kind}"), params).await?;
        if u["code"] == 200 {
            return Ok("updated");
        }
        bail!("{u}");
    }
    bail!("{a}")
}

/// Creates or updates each row (its `columns` sent as parameters) through `dic/create{kind}` /
/// `dic/update{kind}`, with a progress bar and a closing count.
async fn upsert_rows(
    client: &NimClient,
    rows: &[&HashMap<String, String>],
    kind: &str,
    columns: &[&str],
    what: &str,
) -> anyhow::Result<ExitCode> {
    let pb = progress_bar(rows.len() as u64, what);
    let mut pace = dic_pace();
    let (mut created, mut updated) = (0u64, 0u64);
    for r in rows {
        let params: Vec<(&str, &str)> = columns
            .iter()
            .map(|c| (*c, r.get(*c).map(String::as_str).unwrap_or("")))
            .collect();
        let outcome = upsert(client, &mut pace, kind, &params)
            .await
            .with_context(|| format!("{what} {}", params[0].1))?;
        if outcome == "created" {
            created += 1;
        } else {
            updated += 1;
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    println!("{what}: {created} created, {updated} updated");
    Ok(ExitCode::SUCCESS)
}

fn read_csv(file: &Path, columns: &[&str]) -> anyhow::Result<Vec<HashMap<String, String>>> {
    let mut r =
        csv::Reader::from_path(file).with_context(|| format!("opening {}", file.display()))?;
    let headers: Vec<String> = r.headers()?.iter().map(|h| h.trim().to_owned()).collect();
    for h in &headers {
        anyhow::ensure!(
            columns.contains(&h.as_str()),
            "{}: unknown column {h:?} (expected {})",
            file.display(),
            columns.join(",")
        );
    }
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec?;
        out.push(
            headers
                .iter()
                .cloned()
                .zip(rec.iter().map(|v| v.trim().to_owned()))
                .collect(),
        );
    }
    Ok(out)
}

async fn import_areas(client: &NimClient, file: &Path) -> anyhow::Result<ExitCode> {
    let rows = read_csv(file, &["areaid", "name", "parentid"])?;
    // Parents before children, whatever the file's order.
    let ids: HashSet<&str> = rows
        .iter()
        .filter_map(|r| r.get("areaid").map(String::as_str))
        .collect();
    let mut placed: HashSet<&str> = HashSet::new();
    let mut order = Vec::with_capacity(rows.len());
    while order.len() < rows.len() {
        let before = order.len();
        for r in &rows {
            let id = r.get("areaid").map(String::as_str).unwrap_or("");
            let parent = r.get("parentid").map(String::as_str).unwrap_or("");
            if !placed.contains(id)
                && (parent.is_empty() || !ids.contains(parent) || placed.contains(parent))
            {
                placed.insert(id);
                order.push(r);
            }
        }
        if order.len() == before {
            let stuck: Vec<&str> = rows
                .iter()
                .filter_map(|r| r.get("areaid").map(String::as_str))
                .filter(|id| !placed.contains(id))
                .collect();
            bail!(
                "{}: these areas form a parent cycle: {}",
                file.display(),
                stuck.join(", ")
            );
        }
    }
    upsert_rows(
        client,
        &order,
        "Area",
        &["areaid", "name", "parentid"],
        "areas",
    )
    .await
}

async fn import_enterptypes(client: &NimClient, file: &Path) -> anyhow::Result<ExitCode> {
    let rows = read_csv(file, &["enterptypeid", "name"])?;
    let rows: Vec<&HashMap<String, String>> = rows.iter().collect();
    upsert_rows(
        client,
        &rows,
        "Enterptype",
        &["enterptypeid", "name"],
        "enterprise types",
    )
    .await
}
