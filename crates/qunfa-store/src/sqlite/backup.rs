//! Online backup and restore of the embedded database (`qunfa backup`, `qunfa restore`).
//!
//! **Backup** copies the database with SQLite's online backup API from a connection of its
//! own, while a server may be writing. The copy is one consistent snapshot: the backup
//! connection opens a read transaction first and holds it until the last page is copied, so
//! every step reads the same snapshot. (Without it, each step opens a read transaction of its
//! own, and SQLite starts the copy over when another connection committed between two steps,
//! as its documentation says: a server that never pauses could keep a copy from ending.) In
//! WAL mode, which qunfa always uses, a reader blocks
//! no writer: sends go on committing into the WAL during the copy, which only keeps the
//! checkpointer from recycling the WAL until the copy ends. The copy goes in steps of
//! `step_pages` pages, so progress can be reported and the copy can be stopped between any two.
//! The result is written to a private temporary file (0600) beside the target, switched to a
//! rollback journal (one self-contained file, no `-wal`), checked with `integrity_check`,
//! synced, and only then moved to its name; an existing file is replaced only when asked.
//!
//! **Restore** checks that a file is a qunfa database this binary can run (SQLite,
//! `integrity_check` ok, a schema version it knows, qunfa's tables), then copies it into an
//! empty data directory, holding the directory's `serve.lock` meanwhile so no server starts on
//! it half way. Migrations newer than the file's schema run at the next `qunfa serve`.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension};

use super::{DB_FILE, MIGRATIONS};

/// The lock `qunfa serve` holds on its data directory (see `qunfa_server::Server::open`).
pub const LOCK_FILE: &str = "serve.lock";

/// Why a backup or restore did not happen; the text is for the operator.
#[derive(Debug)]
pub struct BackupError(pub String);

impl fmt::Display for BackupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BackupError {}

fn fail(msg: impl Into<String>) -> BackupError {
    BackupError(msg.into())
}

/// What a database holds, as a backup or restore reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbInfo {
    /// `PRAGMA user_version`: how many of qunfa's migrations the file has.
    pub schema_version: usize,
    /// Empty for databases made before deployment ids existed (schema < 6).
    pub deployment_id: String,
    pub apps: i64,
    pub accounts: i64,
    pub messages: i64,
    pub bytes: u64,
}

/// The schema version this binary creates and runs.
pub fn schema_version() -> usize {
    MIGRATIONS.len()
}

/// How a backup runs.
#[derive(Clone, Copy, Debug)]
pub struct BackupOptions {
    /// Pages copied per step (a page is 4 KiB).
    pub step_pages: usize,
    /// Replace an existing target file.
    pub overwrite: bool,
}

impl Default for BackupOptions {
    fn default() -> Self {
        BackupOptions {
            step_pages: 1024,
            overwrite: false,
        }
    }
}

/// Called after each step with (pages copied, pages in all).
pub type OnProgress<'a> = &'a mut dyn FnMut(u64, u64);

/// Copies the database at `db` (a running server's, or a stopped one's) into `to`.
pub fn backup(
    db: &Path,
    to: &Path,
    opts: BackupOptions,
    progress: OnProgress<'_>,
) -> Result<DbInfo, BackupError> {
    if !db.is_file() {
        return Err(fail(format!("no embedded database at {}", db.display())));
    }
    if to.exists() && !opts.overwrite {
        return Err(fail(format!(
            "{} exists: give --force to replace it",
            to.display()
        )));
    }
    if same_file(db, to) {
        return Err(fail("the backup cannot be the database itself"));
    }
    // Read-write (SQLite needs to join the WAL's shared memory), but never created: a wrong
    // path must not leave an empty database behind. Nothing is written through it.
    let src = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_WRITE)
        .map_err(|e| fail(format!("cannot open {}: {e}", db.display())))?;
    src.busy_timeout(Duration::from_secs(10))
        .and_then(|_| src.execute_batch("PRAGMA query_only = ON; BEGIN"))
        .map_err(|e| fail(format!("cannot read {}: {e}", db.display())))?;
    // The first read starts the snapshot every step below copies from.
    src.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
        r.get::<_, i64>(0)
    })
    .map_err(|e| not_a_database(db, e))?;
    let temp = Partial::create(to)?;
    copy(&src, temp.path(), opts.step_pages, progress)
        .map_err(|e| fail(format!("backing up {}: {e}", db.display())))?;
    let _ = src.execute_batch("COMMIT");
    drop(src);
    let info = verify(temp.path())
        .map_err(|e| fail(format!("the copy of {} is not sound: {e}", db.display())))?;
    temp.finish(opts.overwrite)?;
    Ok(info)
}

/// Copies `src`'s main database into the empty file `dest` step by step, then makes it a
/// rollback-journal database (one file) and syncs it.
fn copy(
    src: &Connection,
    dest: &Path,
    step_pages: usize,
    progress: OnProgress<'_>,
) -> Result<(), String> {
    let mut dst = Connection::open(dest).map_err(|e| e.to_string())?;
    {
        let b = Backup::new(src, &mut dst).map_err(|e| e.to_string())?;
        let step = step_pages.clamp(1, i32::MAX as usize) as i32;
        loop {
            let r = b.step(step).map_err(|e| e.to_string())?;
            let p = b.progress();
            let total = p.pagecount.max(0) as u64;
            progress(total.saturating_sub(p.remaining.max(0) as u64), total);
            match r {
                StepResult::Done => break,
                StepResult::More => {}
                // Busy or locked: neither happens with the snapshot held and a private target;
                // if one does, wait a moment and go on.
                _ => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }
    let mode: String = dst
        .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(format!("the copy stayed in journal mode {mode}"));
    }
    drop(dst);
    File::open(dest)
        .and_then(|f| f.sync_all())
        .map_err(|e| format!("syncing the copy: {e}"))
}

fn not_a_database(path: &Path, e: rusqlite::Error) -> BackupError {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => fail(format!(
            "{} is not a SQLite database (nor a qunfa backup)",
            path.display()
        )),
        _ => fail(format!("cannot read {}: {e}", path.display())),
    }
}

/// Checks that `file` is a sound qunfa database this binary can run, and says what it holds.
pub fn verify(file: &Path) -> Result<DbInfo, BackupError> {
    let meta = fs::metadata(file).map_err(|e| fail(format!("{}: {e}", file.display())))?;
    if !meta.is_file() {
        return Err(fail(format!("{} is not a file", file.display())));
    }
    let c = Connection::open_with_flags(
        file,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| not_a_database(file, e))?;
    let problems: Vec<String> = c
        .prepare("PRAGMA integrity_check(10)")
        .and_then(|mut st| {
            st.query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<_, _>>()
        })
        .map_err(|e| not_a_database(file, e))?;
    if problems != ["ok"] {
        return Err(fail(format!(
            "{} is damaged (integrity_check: {})",
            file.display(),
            problems.join("; ").replace('\n', " ")
        )));
    }
    let not_qunfa = || {
        fail(format!(
            "{} is a SQLite database but not qunfa's (no apps table or schema version)",
            file.display()
        ))
    };
    let version: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| not_a_database(file, e))?;
    let has = |table: &str| -> bool {
        c.query_row(
            "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1",
            [table],
            |_| Ok(()),
        )
        .optional()
        .ok()
        .flatten()
        .is_some()
    };
    if version <= 0 || !has("apps") || !has("accounts") || !has("messages") {
        return Err(not_qunfa());
    }
    let version = version as usize;
    if version > schema_version() {
        return Err(fail(format!(
            "{} has schema version {version}, made by a newer qunfa; this one runs up to version {}",
            file.display(),
            schema_version()
        )));
    }
    let count = |table: &str| -> Result<i64, BackupError> {
        c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .map_err(|e| fail(format!("reading {}: {e}", file.display())))
    };
    let deployment_id = if has("meta") {
        c.query_row(
            "SELECT value FROM meta WHERE key = 'deployment_id'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| fail(format!("reading {}: {e}", file.display())))?
        .unwrap_or_default()
    } else {
        String::new()
    };
    Ok(DbInfo {
        schema_version: version,
        deployment_id,
        apps: count("apps")?,
        accounts: count("accounts")?,
        messages: count("messages")?,
        bytes: meta.len(),
    })
}

/// Brings the backup `file` back as the database of the empty (or absent) directory
/// `data_dir`.
pub fn restore(
    file: &Path,
    data_dir: &Path,
    progress: OnProgress<'_>,
) -> Result<DbInfo, BackupError> {
    let info = verify(file)?;
    let entries = |dir: &Path| -> Result<Vec<String>, BackupError> {
        let mut names = Vec::new();
        for e in fs::read_dir(dir).map_err(|e| fail(format!("{}: {e}", dir.display())))? {
            let e = e.map_err(|e| fail(format!("{}: {e}", dir.display())))?;
            names.push(e.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    };
    if data_dir.exists() {
        let names = entries(data_dir)?;
        if !names.is_empty() {
            return Err(fail(format!(
                "the data directory {} is not empty (it holds {}): restore only into an empty \
                 one; move this one aside first, or give another --data-dir",
                data_dir.display(),
                names.join(", ")
            )));
        }
    } else {
        let mut b = fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(data_dir)
            .map_err(|e| fail(format!("cannot create {}: {e}", data_dir.display())))?;
    }
    let lock = File::create(data_dir.join(LOCK_FILE))
        .map_err(|e| fail(format!("cannot lock {}: {e}", data_dir.display())))?;
    lock.try_lock().map_err(|_| {
        fail(format!(
            "a qunfa server is starting on {}: stop it first",
            data_dir.display()
        ))
    })?;
    // Something may have appeared between the first look and the lock.
    if entries(data_dir)? != [LOCK_FILE] {
        return Err(fail(format!(
            "the data directory {} changed while the restore started: it is no longer empty",
            data_dir.display()
        )));
    }
    let src = Connection::open_with_flags(file, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| not_a_database(file, e))?;
    let target = data_dir.join(DB_FILE);
    let temp = Partial::create(&target)?;
    copy(&src, temp.path(), 1024, progress)
        .map_err(|e| fail(format!("restoring {}: {e}", file.display())))?;
    drop(src);
    temp.finish(false)?;
    drop(lock);
    Ok(info)
}

/// A private temporary file beside `target`, removed unless [`Partial::finish`] moved it there.
struct Partial {
    path: PathBuf,
    target: PathBuf,
    done: bool,
}

impl Partial {
    fn create(target: &Path) -> Result<Partial, BackupError> {
        let name = target
            .file_name()
            .ok_or_else(|| fail(format!("{} is not a file name", target.display())))?;
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let path = dir.join(format!(
            ".{}.{}.partial",
            name.to_string_lossy(),
            std::process::id()
        ));
        let mut o = OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        o.open(&path)
            .map_err(|e| fail(format!("cannot create {}: {e}", path.display())))?;
        Ok(Partial {
            path,
            target: target.to_owned(),
            done: false,
        })
    }

    fn path(&self) -> &Path {
        &self.path
    }

    /// Moves the file to its name: never over an existing file unless `overwrite`.
    fn finish(mut self, overwrite: bool) -> Result<(), BackupError> {
        let moved = if overwrite {
            fs::rename(&self.path, &self.target)
        } else {
            // A hard link fails if the name is taken, with no window between check and move;
            // on a file system without hard links, check and rename.
            match fs::hard_link(&self.path, &self.target) {
                Ok(()) => fs::remove_file(&self.path),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(e),
                Err(_) if self.target.exists() => {
                    Err(std::io::Error::from(std::io::ErrorKind::AlreadyExists))
                }
                Err(_) => fs::rename(&self.path, &self.target),
            }
        };
        moved.map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => fail(format!(
                "{} exists: give --force to replace it",
                self.target.display()
            )),
            _ => fail(format!("cannot write {}: {e}", self.target.display())),
        })?;
        self.done = true;
        if let Some(dir) = self.target.parent().filter(|p| !p.as_os_str().is_empty()) {
            // The new name must survive a power loss as well as the bytes.
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.path);
            let mut journal = self.path.clone().into_os_string();
            journal.push("-journal");
            let _ = fs::remove_file(journal);
        }
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}
