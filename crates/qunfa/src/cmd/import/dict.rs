//! `qunfa import areas|enterptypes`: dictionary entries created (or updated when they exist)
//! one `dic/…` call at a time, paced under the rate limit; areas parents first.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use qunfa_server::client::NimClient;
use serde_json::Value;

use super::{progress_bar, read_csv};

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

pub(super) async fn import_areas(client: &NimClient, file: &Path) -> anyhow::Result<ExitCode> {
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

pub(super) async fn import_enterptypes(
    client: &NimClient,
    file: &Path,
) -> anyhow::Result<ExitCode> {
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
