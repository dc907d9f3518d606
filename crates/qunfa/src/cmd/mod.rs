//! The subcommands, and what they share: config loading and finding credentials.

pub mod app;
pub mod backup;
pub mod bench;
pub mod call;
pub mod import;
pub mod migrate;
pub mod serve;
pub mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use std::sync::Arc;

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
        Config::load(
            self.config_file.as_deref(),
            &qunfa_server::config::process_env(),
            &flags,
        )
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
    /// Server URL (default: http:// + the config's `listen`).
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
        let url = self
            .url
            .clone()
            .unwrap_or_else(|| format!("http://{}", cfg.listen));
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
