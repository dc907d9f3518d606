//! Where `qunfa import users` keeps its progress mark: one file per (target app, file content),
//! in the data directory's `imports/` when this machine has the data directory, else in the
//! user's state directory (`$XDG_STATE_HOME/qunfa/imports`, `~/.local/state/qunfa/imports`).
//! Keyed by the content's SHA-256 and the AppKey, so the same CSV imported into another app (a
//! fresh quick start) starts from the first row, an edited CSV too, and a CSV moved or renamed
//! resumes where it was.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// What a pass over the file learns: its data rows and its content hash.
pub(super) struct Scanned {
    pub rows: u64,
    pub sha256: String,
}

/// Counts the data rows (lines after the header) and hashes the content, in one read.
pub(super) fn scan(file: &Path) -> anyhow::Result<Scanned> {
    let f = File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let mut r = BufReader::with_capacity(1 << 20, f);
    let mut hash = Sha256::new();
    let mut lines: u64 = 0;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        hash.update(buf);
        lines += buf.iter().filter(|&&b| b == b'\n').count() as u64;
        let len = buf.len();
        r.consume(len);
    }
    Ok(Scanned {
        rows: lines.saturating_sub(1),
        sha256: hex::encode(hash.finalize()),
    })
}

/// The directory for progress marks (created on first write).
pub(super) fn dir(data_dir: &Path, env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    if data_dir.is_dir() {
        return data_dir.join("imports");
    }
    let state = env("XDG_STATE_HOME")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| Path::new(&h).join(".local/state")));
    match state {
        Some(s) => s.join("qunfa").join("imports"),
        None => data_dir.join("imports"),
    }
}

/// One import's mark: rows 1..=`done` of this content are in this app.
pub(super) struct Mark {
    pub path: PathBuf,
    file: String,
    appkey: String,
    sha256: String,
}

impl Mark {
    pub fn new(dir: &Path, file: &Path, appkey: &str, sha256: &str) -> Mark {
        let safe: String = appkey
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(64)
            .collect();
        Mark {
            path: dir.join(format!("users-{safe}-{}.json", &sha256[..32])),
            file: std::path::absolute(file)
                .unwrap_or_else(|_| file.to_owned())
                .display()
                .to_string(),
            appkey: appkey.to_owned(),
            sha256: sha256.to_owned(),
        }
    }

    /// Rows already imported by an earlier run (0: none, or no earlier run).
    pub fn load(&self) -> anyhow::Result<u64> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e).with_context(|| format!("reading {}", self.path.display())),
        };
        let v: Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is corrupt", self.path.display()))?;
        if v["sha256"] != self.sha256.as_str() || v["appkey"] != self.appkey.as_str() {
            return Ok(0);
        }
        v["rows_done"]
            .as_u64()
            .with_context(|| format!("{} is corrupt", self.path.display()))
    }

    /// Moves the mark to `done` (written whole, then renamed: never half a file).
    pub fn save(&self, done: u64) -> anyhow::Result<()> {
        if let Some(d) = self.path.parent() {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        let body = json!({
            "file": self.file,
            "appkey": self.appkey,
            "sha256": self.sha256,
            "rows_done": done,
        });
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, format!("{body}\n"))
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &self.path)
            .with_context(|| format!("writing {}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn marks_live_in_the_data_dir_else_in_the_state_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("qunfa-data");
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let xdg = env(&[("XDG_STATE_HOME", "/state"), ("HOME", "/home/u")]);
        let home = env(&[("XDG_STATE_HOME", ""), ("HOME", "/home/u")]);
        let none = env(&[]);
        assert_eq!(dir(&data, &xdg), Path::new("/state/qunfa/imports"));
        assert_eq!(
            dir(&data, &home),
            Path::new("/home/u/.local/state/qunfa/imports")
        );
        assert_eq!(dir(&data, &none), data.join("imports"));
        std::fs::create_dir(&data).unwrap();
        assert_eq!(dir(&data, &xdg), data.join("imports"));
    }

    #[test]
    fn a_mark_belongs_to_one_app_and_one_content() {
        let tmp = tempfile::tempdir().unwrap();
        let csv = tmp.path().join("u.csv");
        std::fs::write(&csv, "accid\na\nb\n").unwrap();
        let s = scan(&csv).unwrap();
        assert_eq!(s.rows, 2);
        let m = Mark::new(tmp.path(), &csv, "key1", &s.sha256);
        assert_eq!(m.load().unwrap(), 0);
        m.save(2).unwrap();
        assert_eq!(m.load().unwrap(), 2);
        assert_eq!(
            Mark::new(tmp.path(), &csv, "key2", &s.sha256)
                .load()
                .unwrap(),
            0
        );
        std::fs::write(&csv, "accid\na\nc\n").unwrap();
        let changed = scan(&csv).unwrap();
        assert_ne!(changed.sha256, s.sha256);
        assert_eq!(
            Mark::new(tmp.path(), &csv, "key1", &changed.sha256)
                .load()
                .unwrap(),
            0
        );
    }
}
