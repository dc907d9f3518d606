//! `qunfa backup` and `qunfa restore`, end to end, with real processes: a backup taken while a
//! real `qunfa serve` takes concurrent signed `sendMsg` calls is restored into a fresh data
//! directory, a server started on it answers history over HTTP, and every message acknowledged
//! (200) before the backup started is there, with no hole: the restored messages are exactly
//! the acknowledged ones up to the newest restored msgid (one snapshot, not a mix of moments).
//! Then the same after `kill -9` (a stopped server with a WAL left behind), the refusals of
//! both commands, and the PostgreSQL advice.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use qunfa_server::client::NimClient;
use serde_json::Value;
use support::{Opts, Serve, output_text as text};

const SENDERS: usize = 4;
const RECIPIENT: &str = "inbox";
const PREFILL: usize = 300;
const BACKUP_TIMEOUT: Duration = Duration::from_secs(60);

/// A `qunfa` command in `cwd`, without the outer environment's `QUNFA_*` variables.
fn qunfa(cwd: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(support::BIN);
    cmd.current_dir(cwd).args(args).env("NO_COLOR", "1");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("QUNFA_") {
            cmd.env_remove(&key);
        }
    }
    cmd.output().unwrap()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn client(s: &Serve) -> NimClient {
    let (key, secret) = s.app.clone().expect("a first start prints the app");
    NimClient::new(&s.url, &key, &secret)
}

async fn ok(nim: &NimClient, endpoint: &str, params: &[(&str, &str)]) -> Value {
    let v = nim.call(endpoint, params).await.unwrap();
    assert_eq!(v["code"], 200, "{endpoint}: {v}");
    v
}

/// Sends one message to `RECIPIENT`; `fill` characters make it take room.
async fn send(nim: &NimClient, from: &str, n: usize, fill: usize) -> i64 {
    let body = serde_json::json!({"msg": format!("{from} #{n} {}", "消".repeat(fill))}).to_string();
    let v = ok(
        nim,
        "msg/sendMsg",
        &[
            ("from", from),
            ("ope", "0"),
            ("to", RECIPIENT),
            ("type", "0"),
            ("body", &body),
        ],
    )
    .await;
    v["data"]["msgid"].as_i64().unwrap()
}

/// The msgids of every message `RECIPIENT` received, through `history/queryUserMsgs`.
async fn inbox(nim: &NimClient) -> BTreeSet<i64> {
    let mut out = BTreeSet::new();
    let mut cursor = 0i64;
    loop {
        let c = cursor.to_string();
        let v = ok(
            nim,
            "history/queryUserMsgs",
            &[("accid", RECIPIENT), ("cursor", &c), ("limit", "100")],
        )
        .await;
        let msgs = v["msgs"].as_array().unwrap();
        if msgs.is_empty() {
            return out;
        }
        for m in msgs {
            assert_eq!(m["kind"], "p2p", "{m}");
            assert!(
                out.insert(m["msgid"].as_i64().unwrap()),
                "listed twice: {m}"
            );
        }
        cursor = v["cursor"].as_i64().unwrap();
    }
}

/// What the concurrent senders have been answered: msgid and when the answer came.
type Acks = Arc<Mutex<Vec<(i64, Instant)>>>;

fn spawn_senders(
    nim: &NimClient,
    stop: &Arc<AtomicBool>,
    acks: &Acks,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..SENDERS)
        .map(|i| {
            let (nim, stop, acks) = (nim.clone(), stop.clone(), acks.clone());
            tokio::spawn(async move {
                let from = format!("s{i}");
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let id = send(&nim, &from, n, 100).await;
                    acks.lock().unwrap().push((id, Instant::now()));
                    n += 1;
                }
            })
        })
        .collect()
}

/// `qunfa ARGS` in `dir`, off the runtime, killed (and the test failed) past `BACKUP_TIMEOUT`.
async fn backup_in(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(support::BIN);
    cmd.current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("QUNFA_") {
            cmd.env_remove(&key);
        }
    }
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    let waiting = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap());
    match tokio::time::timeout(BACKUP_TIMEOUT, waiting).await {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("the backup did not finish within {BACKUP_TIMEOUT:?} while sends went on");
        }
    }
}

/// Restores `file` into `DIR/qunfa-data`, starts a server there, and answers its inbox.
async fn restored_inbox(dir: &Path, file: &Path, app: &(String, String)) -> (BTreeSet<i64>, Serve) {
    let out = qunfa(dir, &["restore", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains(&format!("restored {} into ./qunfa-data (", file.display()))
            && said.contains(&format!(
                ", schema version {}, 1 apps, 5 accounts, ",
                qunfa_store::sqlite::backup::schema_version()
            )),
        "{said}"
    );
    let db = dir.join("qunfa-data").join("qunfa.sqlite3");
    assert_eq!(mode(&db), 0o600);
    let server = Serve::start(Opts {
        dir: dir.to_owned(),
        ..Opts::default()
    });
    assert!(
        server.app.is_none(),
        "the restored deployment has its app already"
    );
    let nim = NimClient::new(&server.url, &app.0, &app.1);
    (inbox(&nim).await, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_during_sends_restores_every_acknowledged_message() {
    let a = tempfile::tempdir().unwrap();
    let mut server = Serve::start(Opts {
        dir: a.path().to_owned(),
        ..Opts::default()
    });
    let app = server.app.clone().unwrap();
    let nim = client(&server);
    for accid in [RECIPIENT, "s0", "s1", "s2", "s3"] {
        ok(&nim, "user/create", &[("accid", accid)]).await;
    }
    // About 4 MB, so the copy takes 1,000+ steps of 4 pages, with commits of the load landing
    // between them.
    for n in 0..PREFILL {
        send(&nim, "s0", n, 4900).await;
    }

    // Sends go on from before the backup starts until after it ends.
    let (stop, acks): (_, Acks) = (Arc::new(AtomicBool::new(false)), Default::default());
    let senders = spawn_senders(&nim, &stop, &acks);
    while acks.lock().unwrap().len() < 40 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (started, acked_before): (Instant, BTreeSet<i64>) = {
        let a = acks.lock().unwrap();
        (Instant::now(), a.iter().map(|(id, _)| *id).collect())
    };
    let file = a.path().join("backup.sqlite3");
    let out = backup_in(
        a.path(),
        &["backup", "--to", "backup.sqlite3", "--step-pages", "4"],
    )
    .await;
    let ended = Instant::now();
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("backed up ") && said.contains("integrity_check ok"),
        "{said}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        s.await.unwrap();
    }
    let acks = acks.lock().unwrap().clone();
    let during = acks
        .iter()
        .filter(|(_, at)| *at > started && *at < ended)
        .count();
    eprintln!(
        "the backup took {:?}; {during} sends were acknowledged meanwhile",
        ended - started
    );
    assert!(during > 0, "no send was acknowledged while the backup ran");
    assert!(
        acks.iter().any(|(_, at)| *at > ended),
        "sends went on after it"
    );
    assert_eq!(mode(&file), 0o600, "a backup is as private as the database");
    assert!(
        !a.path().join("backup.sqlite3-wal").exists(),
        "a backup is one file"
    );

    let all = inbox(&nim).await;
    assert_eq!(
        all.len(),
        PREFILL + acks.len(),
        "the running server has every send"
    );

    let b = tempfile::tempdir().unwrap();
    let (restored, restored_server) = restored_inbox(b.path(), &file, &app).await;
    let missing: Vec<_> = acked_before.difference(&restored).collect();
    assert!(
        missing.is_empty(),
        "acknowledged before the backup, not restored: {missing:?}"
    );
    let newest = *restored.last().unwrap();
    let expected: BTreeSet<i64> = all.iter().copied().filter(|id| *id <= newest).collect();
    assert_eq!(
        restored, expected,
        "one snapshot: every message up to the newest, no hole"
    );
    assert!(restored.len() >= PREFILL + acked_before.len());
    drop(restored_server);

    // The server dies (SIGKILL: its WAL stays behind); a backup of the stopped deployment has
    // everything that was acknowledged. The file exists: refused without --force, untouched.
    server.kill9();
    let before = std::fs::read(&file).unwrap();
    let out = qunfa(a.path(), &["backup", "--to", "backup.sqlite3"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        text(&out).trim(),
        format!(
            "error: {} exists: give --force to replace it",
            "backup.sqlite3"
        )
    );
    assert_eq!(std::fs::read(&file).unwrap(), before);
    let out = qunfa(a.path(), &["backup", "--to", "backup.sqlite3", "--force"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(mode(&file), 0o600);
    let c = tempfile::tempdir().unwrap();
    let (restored, _server) = restored_inbox(c.path(), &file, &app).await;
    assert_eq!(
        restored, all,
        "a stopped server's backup has every acknowledged message"
    );
}

/// A data directory with one app and no server, made by `qunfa app create`, and its backup.
fn small_backup(dir: &Path) -> std::path::PathBuf {
    let out = qunfa(dir, &["app", "create", "shop"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = qunfa(dir, &["backup", "--to", "small.sqlite3"]);
    assert!(out.status.success(), "{}", text(&out));
    dir.join("small.sqlite3")
}

#[test]
fn restore_refuses_anything_but_a_sound_qunfa_database_into_an_empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = small_backup(d);

    // Into the data directory it came from: not empty.
    let out = qunfa(d, &["restore", "small.sqlite3"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out).trim(),
        "error: the data directory ./qunfa-data is not empty (it holds qunfa.sqlite3, \
         qunfa.sqlite3-shm, qunfa.sqlite3-wal): restore only into an empty one; move this one \
         aside first, or give another --data-dir"
            .replace(", qunfa.sqlite3-shm, qunfa.sqlite3-wal", &wal_suffix(d))
    );

    let check = |file: &Path, want: &str| {
        let target = d.join("fresh");
        let out = qunfa(
            d,
            &["restore", file.to_str().unwrap(), "--data-dir", "fresh"],
        );
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert_eq!(text(&out).trim(), format!("error: {want}"));
        assert!(!target.exists(), "nothing is written for a refused file");
    };
    let junk = d.join("notes.txt");
    std::fs::write(
        &junk,
        "this is not a database, only text that is long enough to look like one".repeat(20),
    )
    .unwrap();
    check(
        &junk,
        &format!(
            "{} is not a SQLite database (nor a qunfa backup)",
            junk.display()
        ),
    );

    let other = d.join("other.sqlite3");
    let c = rusqlite::Connection::open(&other).unwrap();
    c.execute_batch("CREATE TABLE t (x); PRAGMA user_version = 3;")
        .unwrap();
    drop(c);
    check(
        &other,
        &format!(
            "{} is a SQLite database but not qunfa's (no apps table or schema version)",
            other.display()
        ),
    );

    let newer = d.join("newer.sqlite3");
    std::fs::copy(&good, &newer).unwrap();
    let c = rusqlite::Connection::open(&newer).unwrap();
    c.execute_batch("PRAGMA user_version = 99;").unwrap();
    drop(c);
    check(
        &newer,
        &format!(
            "{} has schema version 99, made by a newer qunfa; this one runs up to version {}",
            newer.display(),
            qunfa_store::sqlite::backup::schema_version()
        ),
    );

    // Damage inside the data (not the header): integrity_check finds it.
    let damaged = d.join("damaged.sqlite3");
    let mut bytes = std::fs::read(&good).unwrap();
    let page = 4096;
    assert!(bytes.len() > 3 * page);
    for b in &mut bytes[page + 8..2 * page] {
        *b = 0xA5;
    }
    std::fs::write(&damaged, &bytes).unwrap();
    let out = qunfa(
        d,
        &["restore", damaged.to_str().unwrap(), "--data-dir", "fresh"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.starts_with(&format!(
            "error: {} is damaged (integrity_check: *** in database main *** Tree ",
            damaged.display()
        )) && said.trim().lines().count() == 1,
        "{said}"
    );
    assert!(!d.join("fresh").exists());

    // The good one restores into a fresh directory, private, and a server opens it.
    let out = qunfa(d, &["restore", "small.sqlite3", "--data-dir", "fresh"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(mode(&d.join("fresh")), 0o700);
    assert_eq!(mode(&d.join("fresh/qunfa.sqlite3")), 0o600);
    let out = qunfa(d, &["app", "list", "--data-dir", "fresh"]);
    assert!(
        out.status.success() && text(&out).contains("shop"),
        "{}",
        text(&out)
    );
}

/// The files a data directory holds besides the database (the WAL's, when a connection is open
/// or a process left them).
fn wal_suffix(d: &Path) -> String {
    let mut s = String::new();
    for f in ["qunfa.sqlite3-shm", "qunfa.sqlite3-wal"] {
        if d.join("qunfa-data").join(f).exists() {
            s.push_str(", ");
            s.push_str(f);
        }
    }
    s
}

#[test]
fn on_postgresql_both_commands_say_what_to_use_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let url = "postgres://qunfa:s3cret@db.internal:5432/qunfa?schema=im";
    for args in [
        vec!["backup", "--to", "b.sqlite3", "--store", url],
        vec!["restore", "b.sqlite3", "--store", url],
    ] {
        let out = qunfa(dir.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let said = text(&out);
        assert!(
            said.contains("this store is PostgreSQL (postgres://qunfa@db.internal:5432/qunfa, schema im)")
                && said.contains("pg_dump --format=custom --schema=im --file=qunfa.dump 'postgres://qunfa@db.internal:5432/qunfa'")
                && said.contains("pg_restore"),
            "{said}"
        );
        assert!(!said.contains("s3cret"), "{said}");
        assert!(!dir.path().join("b.sqlite3").exists());
    }
}
