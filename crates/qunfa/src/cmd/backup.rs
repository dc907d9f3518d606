//! `qunfa backup --to FILE` and `qunfa restore FILE`: a consistent copy of the embedded
//! database, taken while the server runs or not, and its way back into an empty data
//! directory. The copying and checking are `qunfa_store::sqlite::backup`'s; this is the
//! command line around them: which database, progress, the summary. A PostgreSQL store is
//! backed up with PostgreSQL's own tools: both commands say how, and exit 2.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use qunfa_store::sqlite::backup::{self, BackupOptions, DbInfo};

use super::Ctx;

#[derive(clap::Args)]
pub struct BackupArgs {
    /// The backup file to write: one SQLite file, readable by its owner only (0600).
    #[arg(long, value_name = "FILE")]
    to: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    force: bool,
    /// Pages (4 KiB each) copied per step; progress is reported between steps.
    #[arg(long, default_value_t = 1024, value_name = "N")]
    step_pages: usize,
}

#[derive(clap::Args)]
pub struct RestoreArgs {
    /// A file written by `qunfa backup`.
    file: PathBuf,
}

/// A progress bar on a terminal, a line every 5 s otherwise.
struct Progress {
    bar: ProgressBar,
    lines: bool,
    last: Instant,
    verb: &'static str,
}

impl Progress {
    fn new(verb: &'static str) -> Progress {
        let lines = !std::io::stderr().is_terminal();
        let bar = if lines {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(0)
        };
        let style = ProgressStyle::with_template(&format!(
            "{verb} {{bar:40.cyan/blue}} {{pos}}/{{len}} pages ({{per_sec}}, eta {{eta}})"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        Progress {
            bar,
            lines,
            last: Instant::now(),
            verb,
        }
    }

    fn show(&mut self, done: u64, total: u64) {
        self.bar.set_length(total);
        self.bar.set_position(done);
        if self.lines && self.last.elapsed() >= Duration::from_secs(5) {
            self.last = Instant::now();
            eprintln!("{}: {done}/{total} pages", self.verb);
        }
    }
}

/// Where the embedded database is, or the PostgreSQL URL when the store is that.
enum Target {
    Embedded(PathBuf),
    Postgres(String),
}

fn target(ctx: &Ctx) -> anyhow::Result<(Target, PathBuf)> {
    let cfg = ctx.config(&[])?;
    let url = cfg.store.url.trim();
    let t = if url.is_empty() {
        Target::Embedded(cfg.data_dir.join(qunfa_store::sqlite::DB_FILE))
    } else if let Some(path) = url.strip_prefix("sqlite:") {
        Target::Embedded(PathBuf::from(path.trim_start_matches("//")))
    } else {
        Target::Postgres(url.to_owned())
    };
    Ok((t, cfg.data_dir))
}

/// `postgres://user:secret@host/db?schema=s` → (`postgres://user@host/db`, `s`).
fn without_password(url: &str) -> (String, String) {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let schema = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("schema="))
        .filter(|s| !s.is_empty())
        .unwrap_or("public")
        .to_owned();
    let shown = match base.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((user, host)) => {
                let user = user.split(':').next().unwrap_or("");
                format!("{scheme}://{user}@{host}")
            }
            None => base.to_owned(),
        },
        None => base.to_owned(),
    };
    (shown, schema)
}

fn postgres_advice(what: &str, url: &str) -> ExitCode {
    let (shown, schema) = without_password(url);
    eprintln!(
        "qunfa {what} works on the embedded SQLite database; this store is PostgreSQL ({shown}, \
         schema {schema}). Use PostgreSQL's own tools, which take a consistent snapshot while the \
         nodes keep running:\n\
         \x20 pg_dump --format=custom --schema={schema} --file=qunfa.dump '{shown}'\n\
         \x20 pg_restore --exit-on-error --no-owner --dbname='<an empty database>' qunfa.dump\n\
         (see \"Backups\" in docs/operations.md)"
    );
    ExitCode::from(2)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn summary(info: &DbInfo) -> String {
    format!(
        "{}, schema version {}, {} apps, {} accounts, {} messages",
        mib(info.bytes),
        info.schema_version,
        info.apps,
        info.accounts,
        info.messages
    )
}

pub async fn backup(ctx: &Ctx, args: BackupArgs) -> anyhow::Result<ExitCode> {
    let db = match target(ctx)? {
        (Target::Postgres(url), _) => return Ok(postgres_advice("backup", &url)),
        (Target::Embedded(db), _) => db,
    };
    let opts = BackupOptions {
        step_pages: args.step_pages.max(1),
        overwrite: args.force,
    };
    let to = args.to.clone();
    let started = Instant::now();
    let (from, info) = tokio::task::spawn_blocking(move || {
        let mut p = Progress::new("backing up");
        let r = backup::backup(&db, &to, opts, &mut |d, t| p.show(d, t));
        p.bar.finish_and_clear();
        r.map(|info| (db, info))
    })
    .await
    .context("the backup thread failed")??;
    println!(
        "backed up {} to {} ({}; integrity_check ok) in {:.1} s",
        from.display(),
        args.to.display(),
        summary(&info),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn restore(ctx: &Ctx, args: RestoreArgs) -> anyhow::Result<ExitCode> {
    let data_dir = match target(ctx)? {
        (Target::Postgres(url), _) => return Ok(postgres_advice("restore", &url)),
        (Target::Embedded(db), dir) => {
            if db != dir.join(qunfa_store::sqlite::DB_FILE) {
                anyhow::bail!(
                    "qunfa restore writes a data directory: drop store.url (sqlite:{}) and give --data-dir",
                    db.display()
                );
            }
            dir
        }
    };
    let file = args.file.clone();
    let dir = data_dir.clone();
    let info = tokio::task::spawn_blocking(move || {
        let mut p = Progress::new("restoring");
        let r = backup::restore(&file, &dir, &mut |d, t| p.show(d, t));
        p.bar.finish_and_clear();
        r
    })
    .await
    .context("the restore thread failed")??;
    println!(
        "restored {} into {} ({})",
        args.file.display(),
        data_dir.display(),
        summary(&info)
    );
    if info.schema_version < backup::schema_version() {
        println!(
            "the next `qunfa serve` migrates it from schema version {} to {}",
            info.schema_version,
            backup::schema_version()
        );
    }
    println!("start it with: qunfa serve --data-dir {}", shell(&data_dir));
    Ok(ExitCode::SUCCESS)
}

fn shell(p: &Path) -> String {
    let s = p.display().to_string();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn the_advice_never_shows_a_password() {
        assert_eq!(
            without_password("postgres://qunfa:s3cret@db.internal:5432/qunfa?schema=im"),
            (
                "postgres://qunfa@db.internal:5432/qunfa".into(),
                "im".into()
            )
        );
        assert_eq!(
            without_password("postgresql://root@127.0.0.1/test"),
            ("postgresql://root@127.0.0.1/test".into(), "public".into())
        );
    }
}
