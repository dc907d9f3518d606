//! The packaging in `deploy/`, checked as far as a machine without a container engine can:
//!
//! - `compose.yaml` parses; it has PostgreSQL, NATS, nginx and two qunfa nodes; each node's
//!   settings are ones qunfa accepts and mean what they say (`qunfa config` is run with exactly
//!   that environment and command line); the hosts its URLs name are services of the file, and
//!   nginx's upstreams are the nodes on the port they listen on.
//! - The Dockerfile copies paths that exist and hold everything the build reads (every file a
//!   crate compiles in with `include_str!`), installs the `qunfa` binary its entrypoint runs, on
//!   a Rust image no older than the workspace's `rust-version`, which in turn is no older than
//!   what any locked dependency asks for.
//! - `qunfa.service` passes `systemd-analyze verify` (when systemd is installed), and its
//!   settings are ones qunfa accepts.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_norway::Value;

use support::output_text as text;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// `qunfa ARGS` with exactly `env` as its `QUNFA_*` environment, in an empty directory.
fn qunfa_with(env: &BTreeMap<String, String>, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(support::BIN);
    cmd.current_dir(dir.path()).args(args).env("NO_COLOR", "1");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("QUNFA_") {
            cmd.env_remove(&key);
        }
    }
    cmd.envs(env);
    cmd.output().unwrap()
}

/// The effective config for `env`, as `qunfa config` prints it.
fn effective(env: &BTreeMap<String, String>) -> toml::Table {
    let out = qunfa_with(env, &["config"]);
    assert!(
        out.status.success(),
        "qunfa refuses {env:?}: {}",
        text(&out)
    );
    toml::from_str(&String::from_utf8_lossy(&out.stdout)).unwrap()
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("not a scalar: {other:?}"),
    }
}

fn is_qunfa(service: &Value) -> bool {
    service["image"].as_str() == Some("qunfa:local") || service.get("build").is_some()
}

#[test]
fn the_compose_file_runs_two_nodes_on_postgres_and_nats_with_settings_qunfa_accepts() {
    let compose: Value = serde_norway::from_str(&read("deploy/compose.yaml")).unwrap();
    let services = compose["services"].as_mapping().unwrap();
    let names: Vec<&str> = services.keys().filter_map(Value::as_str).collect();
    for want in ["postgres", "nats", "nginx"] {
        assert!(names.contains(&want), "no {want} service in {names:?}");
    }
    let nodes: Vec<(&str, &Value)> = services
        .iter()
        .filter(|(_, s)| is_qunfa(s))
        .map(|(n, s)| (n.as_str().unwrap(), s))
        .collect();
    assert_eq!(nodes.len(), 2, "two qunfa nodes");
    let built: Vec<_> = nodes
        .iter()
        .filter(|(_, s)| s.get("build").is_some())
        .collect();
    assert_eq!(
        built.len(),
        1,
        "one node builds the image, the other reuses it"
    );
    let build = &built[0].1["build"];
    assert_eq!(build["dockerfile"].as_str(), Some("deploy/Dockerfile"));
    assert!(
        root()
            .join("deploy")
            .join(build["context"].as_str().unwrap())
            .join("Cargo.toml")
            .exists(),
        "the build context is the repository root"
    );

    let mut listens = Vec::new();
    for (name, node) in &nodes {
        let env: BTreeMap<String, String> = node["environment"]
            .as_mapping()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.as_str().unwrap().to_owned(), scalar(v)))
            .collect();
        let cfg = effective(&env);
        let store = cfg["store"]["url"].as_str().unwrap();
        let bus = cfg["bus"]["url"].as_str().unwrap();
        assert!(store.starts_with("postgres://"), "{name}: {store}");
        assert!(bus.starts_with("nats://"), "{name}: {bus}");
        // The hosts the URLs name are services here.
        for url in [store, bus] {
            let host = url
                .split("://")
                .nth(1)
                .and_then(|r| r.rsplit('@').next())
                .and_then(|r| r.split([':', '/']).next())
                .unwrap();
            assert!(names.contains(&host), "{name}: {url} names no service");
        }
        // nginx reaches the nodes from the compose network: its forwarded address is believed.
        let proxies = &cfg["api"]["trusted_proxies"];
        assert!(
            proxies
                .as_array()
                .is_some_and(|a| a.iter().any(|p| p.as_str() == Some("172.16.0.0/12"))),
            "{name}: api.trusted_proxies {proxies:?}"
        );
        let listen = cfg["listen"].as_str().unwrap().to_owned();
        assert!(
            listen.starts_with("0.0.0.0:"),
            "{name} listens for other containers: {listen}"
        );
        listens.push((name.to_string(), listen));
        // The command is one the binary takes.
        let mut args: Vec<String> = node["command"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(scalar)
            .collect();
        args.push("--help".into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = qunfa_with(&env, &args);
        assert!(out.status.success(), "{name}: {args:?}: {}", text(&out));
    }

    // nginx sends to those nodes, on the ports they listen on, with its config mounted from
    // a file that exists.
    let nginx = &services[&Value::from("nginx")];
    let mount = nginx["volumes"][0].as_str().unwrap();
    let conf_file = mount.split(':').next().unwrap();
    let conf = std::fs::read_to_string(root().join("deploy").join(conf_file)).unwrap();
    for (name, listen) in &listens {
        let port = listen.rsplit(':').next().unwrap();
        assert!(
            conf.contains(&format!("server {name}:{port};")),
            "nginx.conf sends nothing to {name}:{port}"
        );
    }
    assert!(conf.contains("location /ws") && conf.contains("proxy_set_header Upgrade"));
}

/// The files the crates' non-test sources compile in (`include_str!`, and the console's
/// `concat!`ed paths).
fn compiled_in_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root().join("crates")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                if !p.ends_with("tests") {
                    dirs.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "rs") {
                let whole = std::fs::read_to_string(&p).unwrap();
                // What unit tests compile in is not part of the installed binary.
                let src = whole.split("#[cfg(test)]").next().unwrap();
                for (i, _) in src.match_indices("include_str!(\"") {
                    let rest = &src[i + "include_str!(\"".len()..];
                    let rel = &rest[..rest.find('"').unwrap()];
                    out.push(p.parent().unwrap().join(rel));
                }
                for (i, _) in src.match_indices("concat!(\"../") {
                    let rest = &src[i + "concat!(\"".len()..];
                    let rel = &rest[..rest.find('"').unwrap()];
                    out.push(p.parent().unwrap().join(rel));
                }
            }
        }
    }
    out
}

fn version(v: &str) -> (u32, u32) {
    let mut p = v.split('.').map(|x| x.parse::<u32>().unwrap());
    (p.next().unwrap(), p.next().unwrap_or(0))
}

#[test]
fn the_dockerfile_copies_what_the_build_reads_and_runs_the_installed_binary() {
    let file = read("deploy/Dockerfile");
    let lines: Vec<&str> = file
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let root = root().canonicalize().unwrap();

    // The build stage's toolchain is at least the workspace's rust-version.
    let from = lines
        .iter()
        .find(|l| l.starts_with("FROM rust:"))
        .expect("a rust build stage");
    let tag = from["FROM rust:".len()..].split([' ', '-']).next().unwrap();
    let workspace: toml::Table = toml::from_str(&read("Cargo.toml")).unwrap();
    let msrv = workspace["workspace"]["package"]["rust-version"]
        .as_str()
        .unwrap();
    assert!(
        version(tag) >= version(msrv),
        "rust:{tag} is older than rust-version {msrv}"
    );

    // Everything COPY takes from the context exists, and covers the files the crates compile in.
    let mut copied = Vec::new();
    for l in lines
        .iter()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from"))
    {
        let parts: Vec<&str> = l.split_whitespace().skip(1).collect();
        for src in &parts[..parts.len() - 1] {
            let p = root.join(src);
            assert!(p.exists(), "COPY {src}: no such path in the repository");
            copied.push(p.canonicalize().unwrap());
        }
    }
    for f in compiled_in_files() {
        let f = f
            .canonicalize()
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert!(
            copied.iter().any(|c| f.starts_with(c)),
            "{} is compiled in but not copied into the build",
            f.display()
        );
    }

    // It installs the crate whose binary is `qunfa`, and runs that binary.
    let install = lines
        .iter()
        .find(|l| l.starts_with("RUN cargo install"))
        .expect("RUN cargo install");
    let words: Vec<&str> = install.split_whitespace().collect();
    let at = |flag: &str| words[words.iter().position(|w| *w == flag).unwrap() + 1];
    let krate: toml::Table =
        toml::from_str(&read(&format!("{}/Cargo.toml", at("--path")))).unwrap();
    assert_eq!(krate["bin"][0]["name"].as_str(), Some("qunfa"));
    let installed = format!("{}/bin/qunfa", at("--root"));
    let copy = lines
        .iter()
        .find(|l| l.starts_with("COPY --from=build"))
        .unwrap();
    let parts: Vec<&str> = copy.split_whitespace().collect();
    assert_eq!(
        parts[2], installed,
        "the runtime stage copies the installed binary"
    );
    let entry = lines.iter().find(|l| l.starts_with("ENTRYPOINT")).unwrap();
    assert!(
        entry.contains(&format!("\"{}\"", parts[3])),
        "{entry} runs {}",
        parts[3]
    );

    // Its settings are qunfa's, and it listens where it says it does.
    // ENV, with its continuation lines joined.
    let joined = file.replace("\\\n", " ");
    let env: BTreeMap<String, String> = joined
        .lines()
        .filter_map(|l| l.trim().strip_prefix("ENV "))
        .flat_map(str::split_whitespace)
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert!(env.contains_key("QUNFA_LISTEN"), "{env:?}");
    let cfg = effective(&env);
    let port = cfg["listen"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        lines.iter().any(|l| *l == format!("EXPOSE {port}")),
        "EXPOSE {port}"
    );
}

#[test]
fn the_workspace_rust_version_covers_every_locked_dependency() {
    let workspace: toml::Table = toml::from_str(&read("Cargo.toml")).unwrap();
    let msrv = version(
        workspace["workspace"]["package"]["rust-version"]
            .as_str()
            .unwrap(),
    );
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .unwrap();
    let Ok(registries) = std::fs::read_dir(home.join("registry/src")) else {
        eprintln!("skipped: no crate sources under {}", home.display());
        return;
    };
    let registries: Vec<PathBuf> = registries.map(|e| e.unwrap().path()).collect();
    let lock: toml::Table = toml::from_str(&read("Cargo.lock")).unwrap();
    let mut checked = 0;
    for p in lock["package"].as_array().unwrap() {
        if p.get("source").is_none() {
            continue;
        }
        let (name, ver) = (p["name"].as_str().unwrap(), p["version"].as_str().unwrap());
        let Some(manifest) = registries
            .iter()
            .map(|r| r.join(format!("{name}-{ver}/Cargo.toml")))
            .find(|m| m.exists())
        else {
            continue;
        };
        let m: toml::Table = toml::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
        checked += 1;
        if let Some(want) = m
            .get("package")
            .and_then(|p| p.get("rust-version"))
            .and_then(|v| v.as_str())
        {
            assert!(
                version(want) <= msrv,
                "{name} {ver} needs Rust {want}, above the workspace's rust-version"
            );
        }
    }
    assert!(checked > 100, "only {checked} dependencies' sources found");
}

#[test]
fn the_systemd_unit_verifies_and_its_settings_are_qunfas() {
    let unit = read("deploy/qunfa.service");
    let env: BTreeMap<String, String> = unit
        .lines()
        .filter_map(|l| l.strip_prefix("Environment="))
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let cfg = effective(&env);
    assert_eq!(cfg["data_dir"].as_str(), Some("/var/lib/qunfa"));
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .unwrap();
    let (bin, args) = exec.split_once(' ').unwrap();
    assert_eq!(
        bin, "/usr/local/bin/qunfa",
        "where `cargo install --root /usr/local` puts it"
    );
    let mut a: Vec<&str> = args.split_whitespace().collect();
    a.push("--help");
    let out = qunfa_with(&env, &a);
    assert!(out.status.success(), "{exec}: {}", text(&out));

    let Some(analyze) = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        eprintln!("skipped systemd-analyze verify: systemd is not installed");
        return;
    };
    // The unit as installed would run /usr/local/bin/qunfa; here it runs the binary under test.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("qunfa.service");
    std::fs::write(&copy, unit.replace("/usr/local/bin/qunfa", support::BIN)).unwrap();
    let out = Command::new(analyze)
        .arg("verify")
        .arg(&copy)
        .env("SYSTEMD_LOG_LEVEL", "warning")
        .output()
        .unwrap();
    let said = text(&out);
    let problems: Vec<&str> = said
        .lines()
        .filter(|l| l.contains("qunfa.service"))
        .collect();
    assert!(
        out.status.success() && problems.is_empty(),
        "systemd-analyze verify: {said}"
    );
}
