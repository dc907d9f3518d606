//! `qunfa migrate --to postgres://…`: copies an embedded deployment (the data directory's SQLite
//! database) into PostgreSQL, with every id kept: app ids and credentials, account ordinals
//! (audience bitmaps refer to them), msgids (clients' cursors do). Rows already in the target
//! are left alone, so a run that stopped half way is simply run again, and a run over a
//! finished migration finds everything present and changes nothing. A target holding data of
//! anything else (its own first app, another deployment) is refused. Counts are checked on
//! both sides at the end.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use qunfa_core::ids::MsgId;
use qunfa_store::transfer::{AppRow, Claim, Counts, Sink, Source};

use super::Ctx;

#[derive(clap::Args)]
pub struct Args {
    /// The target: postgres://USER@HOST/DB (optionally ?schema=NAME).
    #[arg(long, value_name = "URL")]
    to: String,
    /// Rows per write.
    #[arg(long, default_value_t = 2000)]
    batch: usize,
}

/// A progress bar on a terminal, progress lines every 5 s otherwise.
struct Progress {
    bar: ProgressBar,
    lines: bool,
    start: Instant,
    last: Instant,
    done: u64,
    total: u64,
}

impl Progress {
    fn new(total: u64) -> Progress {
        let lines = !std::io::stderr().is_terminal();
        let bar = if lines {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(total)
        };
        let style = ProgressStyle::with_template(
            "migrating {bar:40.cyan/blue} {pos}/{len} rows ({per_sec}, eta {eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        Progress {
            bar,
            lines,
            start: Instant::now(),
            last: Instant::now(),
            done: 0,
            total,
        }
    }

    fn what(&self, msg: String) {
        self.bar.set_message(msg);
    }

    fn add(&mut self, n: usize) {
        self.done += n as u64;
        self.bar.set_position(self.done);
        if self.lines && self.last.elapsed() >= Duration::from_secs(5) {
            self.last = Instant::now();
            let rate = self.done as f64 / self.start.elapsed().as_secs_f64().max(1e-9);
            eprintln!("migrated {}/{} rows ({rate:.0}/s)", self.done, self.total);
        }
    }
}

fn total(c: &Counts) -> u64 {
    c.accounts
        + c.areas
        + c.enterptypes
        + c.words
        + c.audiences
        + c.messages
        + c.cursors
        + c.reads
        + c.team_rows
        + c.callback_events
}

async fn copy_app(
    source: &dyn Source,
    target: &dyn Sink,
    row: &AppRow,
    batch: usize,
    p: &mut Progress,
) -> anyhow::Result<()> {
    let app = row.app.id;
    let name = &row.app.name;
    target.put_app(row).await?;
    let areas = source.areas(app).await?;
    let types = source.enterptypes(app).await?;
    let words = source.words(app).await?;
    target.put_dictionaries(app, &areas, &types, &words).await?;
    p.add(areas.len() + types.len() + words.len());

    p.what(format!("{name}: accounts"));
    let mut after = None;
    loop {
        let rows = source.account_rows(app, after, batch).await?;
        let Some(last) = rows.last() else { break };
        after = Some(last.ordinal);
        target.put_accounts(app, &rows).await?;
        p.add(rows.len());
    }
    p.what(format!("{name}: audiences"));
    let mut after = None;
    loop {
        // Audiences are large (a bitmap each): fewer per write.
        let rows = source.audience_rows(app, after, batch.div_ceil(20)).await?;
        let Some(last) = rows.last() else { break };
        after = Some(last.hash);
        target.put_audiences(app, &rows).await?;
        p.add(rows.len());
    }
    p.what(format!("{name}: messages"));
    let mut after = MsgId(0);
    loop {
        let rows = source.message_rows(app, after, batch).await?;
        let Some(last) = rows.last() else { break };
        after = last.msgid;
        target.put_messages(app, &rows).await?;
        p.add(rows.len());
    }
    p.what(format!("{name}: teams"));
    let teams = source.team_rows(app).await?;
    target.put_teams(app, &teams).await?;
    p.add(teams.len());
    p.what(format!("{name}: cursors and reads"));
    let mut after = None;
    loop {
        let rows = source.cursor_rows(app, after, batch).await?;
        let Some(last) = rows.last() else { break };
        after = Some(last.0);
        target.put_cursors(app, &rows).await?;
        p.add(rows.len());
    }
    let mut after = MsgId(0);
    loop {
        let rows = source.read_rows(app, after, batch.div_ceil(20)).await?;
        let Some(last) = rows.last() else { break };
        after = last.0;
        target.put_reads(app, &rows).await?;
        p.add(rows.len());
    }
    p.what(format!("{name}: callback outbox"));
    let mut after = 0;
    loop {
        let rows = source.callback_rows(app, after, batch).await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        target.put_callbacks(app, &rows).await?;
        p.add(rows.len());
    }
    target.finish_app(row).await?;
    Ok(())
}

pub async fn run(ctx: &Ctx, args: Args) -> anyhow::Result<ExitCode> {
    let cfg = ctx.config(&[])?;
    if !cfg.store.url.trim().is_empty() {
        bail!(
            "qunfa migrate copies the embedded database of the data directory: drop --store / store.url"
        );
    }
    let db = cfg.data_dir.join(qunfa_store::sqlite::DB_FILE);
    if !db.exists() {
        bail!(
            "no embedded database at {}: run from the directory holding qunfa-data, or give --data-dir",
            db.display()
        );
    }
    let source = super::open_store(&cfg)
        .await?
        .source
        .context("the data directory's store cannot be read as a migration source")?;
    let mut target_cfg = cfg.clone();
    target_cfg.store.url = args.to.clone();
    let target_backend = super::open_store(&target_cfg).await?;
    let describe = target_backend.describe.clone();
    let target: Arc<dyn Sink> = target_backend
        .sink
        .context("the target must be a PostgreSQL store (postgres://USER@HOST/DB)")?;
    let source_id = source.deployment_id().await?;
    match target.claim(&source_id).await? {
        Claim::Fresh => eprintln!("migrating {} into {describe}", db.display()),
        Claim::Resume => {
            eprintln!("{describe} already holds data from this deployment: copying what is missing")
        }
        Claim::Refused(why) => bail!(
            "{describe} holds other data ({why}); refusing to mix it with {}",
            db.display()
        ),
    }
    let apps = source.app_rows().await?;
    let mut want = Vec::with_capacity(apps.len());
    for a in &apps {
        want.push(source.counts(a.app.id).await?);
    }
    let mut p = Progress::new(want.iter().map(total).sum());
    let started = Instant::now();
    for row in &apps {
        copy_app(
            source.as_ref(),
            target.as_ref(),
            row,
            args.batch.max(1),
            &mut p,
        )
        .await
        .with_context(|| format!("copying app {} ({})", row.app.name, row.app.appkey))?;
    }
    p.bar.finish_and_clear();
    let mut mismatched = false;
    println!(
        "{:<34} {:>10} {:>10} {:>10} {:>10}",
        "APP", "ACCOUNTS", "MESSAGES", "AUDIENCES", "CHECK"
    );
    for (row, want) in apps.iter().zip(&want) {
        let have = target.counts(row.app.id).await?;
        let ok = have == *want;
        mismatched |= !ok;
        println!(
            "{:<34} {:>10} {:>10} {:>10} {:>10}",
            format!(
                "{} ({})",
                row.app.name,
                &row.app.appkey[..8.min(row.app.appkey.len())]
            ),
            have.accounts,
            have.messages,
            have.audiences,
            if ok { "ok" } else { "MISMATCH" }
        );
        if !ok {
            eprintln!("  source {want:?}\n  target {have:?}");
        }
    }
    let rows = p.done;
    println!(
        "migrated {} apps, {rows} rows in {:.1} s",
        apps.len(),
        started.elapsed().as_secs_f64()
    );
    if mismatched {
        bail!("counts differ between the data directory and the target (see above)");
    }
    Ok(ExitCode::SUCCESS)
}
