//! The subcommands, and what they share: config loading and finding credentials.

pub mod app;
mod app_callbacks;
pub mod backup;
pub mod bench;
pub mod call;
pub mod import;
pub mod migrate;
pub mod serve;
pub mod watch;

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Once};

use anyhow::Context;
use qunfa_core::Store;
use qunfa_server::Config;
use qunfa_server::client::NimClient;

pub struct Ctx {
    pub config_file: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub store: Option<String>,
    pub bus: Option<String>,
}

/// Where the last `qunfa serve` on an embedded data directory listened: `DIR/serve.addr`.
pub const LISTEN_FILE: &str = "serve.addr";

/// Records the address `qunfa serve` listens on in its data directory, so client commands run
/// with `--data-dir DIR` (or from the directory holding it) call that server.
pub fn record_listen(data_dir: &Path, addr: SocketAddr) {
    if let Err(e) = std::fs::write(data_dir.join(LISTEN_FILE), format!("{addr}\n")) {
        tracing::warn!(error = %e, "cannot record the listen address in the data dir");
    }
}

/// The URL of the server that last ran on `data_dir`, if one did (a wildcard address is
/// called on loopback).
fn recorded_url(data_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(data_dir.join(LISTEN_FILE)).ok()?;
    let mut addr: SocketAddr = text.trim().parse().ok()?;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
        });
    }
    Some(format!("http://{addr}"))
}

/// The URL a client command calls when neither `--url` nor QUNFA_URL says: the server that
/// last ran on the embedded data directory, else the config's `listen`.
fn default_url(cfg: &Config) -> String {
    let recorded = cfg
        .store
        .url
        .trim()
        .is_empty()
        .then(|| recorded_url(&cfg.data_dir))
        .flatten();
    recorded.unwrap_or_else(|| match cfg.listen.parse::<SocketAddr>() {
        Ok(a) if a.ip().is_unspecified() => format!("http://127.0.0.1:{}", a.port()),
        _ => format!("http://{}", cfg.listen),
    })
}

/// Prints, once per process, the warnings about `QUNFA_*` variables that look like misspelt
/// settings (they are ignored).
fn warn_about_env(env: &HashMap<String, String>) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for w in qunfa_server::config::env_warnings(env) {
            eprintln!("warning: {w}");
        }
    });
}

impl Ctx {
    /// The effective config, with `extra` flag overrides on top.
    pub fn config(&self, extra: &[(&str, toml::Value)]) -> anyhow::Result<Config> {
        let mut flags: Vec<(&str, toml::Value)> = extra.to_vec();
        if let Some(d) = &self.data_dir {
            flags.push(("data_dir", toml::Value::String(d.display().to_string())));
        }
        if let Some(u) = &self.store {
            flags.push(("store.url", toml::Value::String(u.clone())));
        }
        if let Some(u) = &self.bus {
            flags.push(("bus.url", toml::Value::String(u.clone())));
        }
        let env = qunfa_server::config::process_env();
        warn_about_env(&env);
        Config::load(self.config_file.as_deref(), &env, &flags)
    }

    /// The configured store, opened directly (the app commands work beside running servers).
    pub async fn store(&self, extra: &[(&str, toml::Value)]) -> anyhow::Result<Arc<dyn Store>> {
        let cfg = self.config(extra)?;
        Ok(open_store(&cfg).await?.store)
    }
}

/// Opens the store `cfg` names (`store.url`, or the data directory).
pub async fn open_store(cfg: &Config) -> anyhow::Result<qunfa_store::Backend> {
    let rl = &cfg.rate_limits;
    let opts = qunfa_store::Options {
        data_dir: cfg.data_dir.clone(),
        synchronous_full: cfg.store.synchronous_full,
        pool_size: cfg.store.pool_size.min(4),
        curtime_window_secs: cfg.api.curtime_window_secs,
        limits: qunfa_core::ratelimit::Limits {
            default: rl.default,
            batch: rl.batch,
            broadcast: rl.broadcast,
            team_query: rl.team_query,
        },
    };
    qunfa_store::open(&cfg.store.url, &opts)
        .await
        .context("opening the store")
}

pub fn print_config(ctx: &Ctx, example: bool) -> anyhow::Result<ExitCode> {
    if example {
        print!("{}", Config::example());
    } else {
        print!("{}", ctx.config(&[])?.to_toml());
    }
    Ok(ExitCode::SUCCESS)
}

/// How a client command reaches the server.
#[derive(clap::Args, Clone, Debug)]
pub struct Target {
    /// Server URL (default: where the last `qunfa serve` on the data directory listened, as
    /// recorded in DIR/serve.addr; else http:// + the config's `listen`).
    #[arg(long, env = "QUNFA_URL")]
    pub url: Option<String>,
    /// AppKey (default: the first enabled app in the local data directory).
    #[arg(long, env = "QUNFA_APPKEY")]
    pub appkey: Option<String>,
    /// AppSecret.
    #[arg(long, env = "QUNFA_APPSECRET", hide_env_values = true)]
    pub secret: Option<String>,
}

impl Target {
    pub async fn client(&self, ctx: &Ctx) -> anyhow::Result<NimClient> {
        let cfg = ctx.config(&[])?;
        let url = self.url.clone().unwrap_or_else(|| default_url(&cfg));
        let (appkey, secret) = match (&self.appkey, &self.secret) {
            (Some(k), Some(s)) => (k.clone(), s.clone()),
            (Some(_), None) | (None, Some(_)) => {
                anyhow::bail!(
                    "give both --appkey and --secret (or QUNFA_APPKEY and QUNFA_APPSECRET)"
                )
            }
            (None, None) => {
                let db = cfg.data_dir.join(qunfa_store::sqlite::DB_FILE);
                if cfg.store.url.trim().is_empty() && !db.exists() {
                    anyhow::bail!(
                        "no credentials: set QUNFA_APPKEY and QUNFA_APPSECRET, or run from the directory \
                         holding the server's data dir ({})",
                        cfg.data_dir.display()
                    );
                }
                let apps = ctx.store(&[]).await?.list_apps().await?;
                let app = apps
                    .into_iter()
                    .find(|a| !a.disabled)
                    .context("no enabled app in the store: run `qunfa app create NAME`")?;
                (app.appkey, app.secret)
            }
        };
        Ok(NimClient::new(&url, &appkey, &secret))
    }
}
