//! Embeds the git commit the server is built from as `QUNFA_GIT_COMMIT` (`unknown` outside a
//! git checkout, as in a crates.io `cargo install`, or without git), for the start-up log line,
//! `qunfa --version` and the `qunfa_build_info` metric.

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let commit = git(&["rev-parse", "--short=12", "HEAD"]);
    println!(
        "cargo:rustc-env=QUNFA_GIT_COMMIT={}",
        commit.as_deref().unwrap_or("unknown")
    );
    if commit.is_none() {
        return;
    }
    // Build again when HEAD moves: HEAD itself (a checkout), the branch it names (a commit),
    // packed refs. Only files that exist, or cargo would rebuild every time.
    let dir = |flag: &str| git(&["rev-parse", flag]).map(PathBuf::from);
    let mut watch: Vec<PathBuf> = Vec::new();
    if let Some(d) = dir("--git-dir") {
        watch.push(d.join("HEAD"));
    }
    if let Some(common) = dir("--git-common-dir") {
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watch.push(common.join(branch));
        }
        watch.push(common.join("packed-refs"));
    }
    for p in watch.iter().filter(|p| Path::new(p).exists()) {
        println!("cargo:rerun-if-changed={}", p.display());
    }
}
