//! `qunfa import users`: accounts in `user/batchCreate` calls, a few in flight and paced. The
//! progress mark is keyed by the target app and the file's content (see `progress.rs`); the
//! generated tokens (`FILE.tokens.csv`) and the failed rows (`FILE.errors.csv`) are written
//! beside the input file.

use std::collections::{HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::ProgressBar;
use qunfa_core::account::SETTABLE_FIELDS;
use qunfa_server::client::NimClient;
use serde_json::{Map, Value, json};

use super::progress::{self, Mark};
use super::{LogProgress, progress_bar};

fn sibling(file: &Path, suffix: &str) -> PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

pub(super) struct UserImport {
    pub(super) batch: usize,
    pub(super) parallel: usize,
    pub(super) max_calls_per_sec: u32,
    pub(super) restart: bool,
    /// Where progress marks live (`progress::dir`).
    pub(super) mark_dir: PathBuf,
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

pub(super) async fn import_users(
    client: &NimClient,
    file: &Path,
    opts: &UserImport,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let scanned = progress::scan(file)?;
    let total = scanned.rows;
    let mark = Mark::new(&opts.mark_dir, file, client.appkey(), &scanned.sha256);
    let tokens_path = sibling(file, ".tokens.csv");
    let errors_path = sibling(file, ".errors.csv");
    let done_before: u64 = if opts.restart { 0 } else { mark.load()? };
    if done_before > 0 {
        eprintln!(
            "resuming after row {done_before}: an earlier run imported rows 1 to {done_before} of this \
             file into app {} (progress in {}; --restart sends every row again)",
            client.appkey(),
            mark.path.display()
        );
    }
    // Tokens qunfa generated for rows without one, recorded before they are sent, so a resumed
    // import re-sends the same token for a batch whose answer was lost, and a new run keeps the
    // tokens already stored (for the same row and accid) instead of replacing the file with
    // ones the server would refuse.
    let mut pending_tokens: HashMap<u64, (String, String)> = HashMap::new();
    if tokens_path.exists() {
        let mut r = csv::Reader::from_path(&tokens_path)?;
        for rec in r.records() {
            let rec = rec?;
            if let (Some(row), Some(accid), Some(token)) = (
                rec.get(0).and_then(|r| r.parse::<u64>().ok()),
                rec.get(1),
                rec.get(2),
            ) && row > done_before
            {
                pending_tokens.insert(row, (accid.to_owned(), token.to_owned()));
            }
        }
    }
    // A run from the first row writes both files anew; a resumed one adds to them.
    let fresh = done_before == 0;
    let had_tokens = tokens_path.exists();
    let mut tokens = OpenOptions::new()
        .create(true)
        .append(!fresh)
        .write(true)
        .truncate(fresh)
        .open(&tokens_path)?;
    if fresh || !had_tokens {
        writeln!(tokens, "row,accid,token")?;
    }
    let mut errors = OpenOptions::new()
        .create(true)
        .append(!fresh)
        .write(true)
        .truncate(fresh)
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
                let accid = obj
                    .get("accid")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_ascii_lowercase();
                let token = pending_tokens
                    .remove(&row)
                    .filter(|(a, _)| *a == accid)
                    .map(|(_, t)| t)
                    .unwrap_or_else(|| qunfa_core::random_hex(16));
                writeln!(tokens, "{row},{accid},{token}")?;
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
                &mark,
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
            &mark,
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
    if done_before > 0 {
        println!(
            "skipped {} rows already imported into this app by an earlier run (--restart sends them again)",
            done_before.min(total)
        );
    }
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
    mark: &Mark,
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
    mark.save(last_row)?;
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
