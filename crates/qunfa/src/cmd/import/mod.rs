//! `qunfa import users|areas|enterptypes FILE.csv`: bulk loading through the signed API, so it
//! works against any qunfa (local or remote, any backend) and keeps the server's indexes right.
//!
//! Users go in `user/batchCreate` calls of up to 1,000, a few in flight, throttled under the
//! rate limit. Progress is recorded after each batch commits, keyed by the target app and the
//! file's content (`progress.rs`), so a re-run resumes where the last one stopped and says how
//! many rows it skipped; accounts that already exist are counted, not failed, so re-running a
//! finished import with `--restart` changes nothing.

mod dict;
mod progress;
mod users;

use std::collections::HashMap;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};

use super::{Ctx, Target};
use dict::{import_areas, import_enterptypes};
use users::{UserImport, import_users};

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
        /// Ignore the progress of earlier runs and start from the first row.
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
            let data_dir = ctx.config(&[])?.data_dir;
            let env = |k: &str| std::env::var(k).ok();
            let opts = UserImport {
                mark_dir: progress::dir(&data_dir, &env),
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
