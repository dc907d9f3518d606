//! Configuration, in layers: built-in defaults, then a TOML file, then `QUNFA_*` environment
//! variables, then command-line flags. Unknown keys are an error at every layer.
//!
//! Every key is documented in [`DOCS`]; `qunfa config --example` prints the example file from it
//! and a test keeps `qunfa.example.toml` in step.

mod callbacks;
mod docs;
mod env_vars;
mod layers;
mod observe;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use qunfa_core::ratelimit::Limit;
use qunfa_core::replay::ReplayCheck;
use serde::{Deserialize, Serialize};

pub use callbacks::{CallbacksConfig, PreSendPolicy};
pub use docs::DOCS;
pub use env_vars::{CLIENT_ENV, env_warnings};
pub use layers::{leaf_keys, process_env};
use layers::{lookup, merge, parse_scalar, set_dotted};
pub use observe::{LogConfig, LogFormat, MetricsConfig};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub listen: String,
    pub data_dir: PathBuf,
    pub log: LogConfig,
    pub bootstrap_app: bool,
    pub metrics: MetricsConfig,
    pub api: ApiConfig,
    pub store: StoreConfig,
    pub bus: BusConfig,
    pub rate_limits: RateLimits,
    pub messages: MessagesConfig,
    pub antispam: AntispamConfig,
    pub gateway: GatewayConfig,
    pub teams: TeamsConfig,
    pub callbacks: CallbacksConfig,
}

/// `[teams]`: the limits of advanced teams.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TeamsConfig {
    pub max_members: u32,
    pub max_owned: u64,
    pub max_joined: u64,
    pub max_managers: usize,
    pub read_receipts: bool,
}

impl Default for TeamsConfig {
    fn default() -> Self {
        TeamsConfig {
            max_members: 2000,
            max_owned: 500,
            max_joined: 5000,
            max_managers: 50,
            read_receipts: true,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    pub login_timeout_secs: u64,
    pub ping_secs: u64,
    pub idle_timeout_secs: u64,
    pub queue_frames: usize,
    pub sync_page: usize,
    pub max_frame_bytes: usize,
    pub read_buffer_bytes: usize,
    pub write_buffer_bytes: usize,
    pub send_buffer_bytes: usize,
    pub close_timeout_secs: u64,
    pub flush_ms: u64,
    pub login_max_failures: u32,
    pub login_max_failures_per_address: u32,
    pub login_window_secs: u64,
    pub send_rate_per_sec: u32,
    pub send_burst: u32,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            login_timeout_secs: 10,
            ping_secs: 30,
            idle_timeout_secs: 90,
            queue_frames: 4096,
            sync_page: 500,
            max_frame_bytes: 64 * 1024,
            read_buffer_bytes: 1024,
            write_buffer_bytes: 32 * 1024,
            send_buffer_bytes: 32 * 1024,
            close_timeout_secs: 10,
            flush_ms: 500,
            login_max_failures: 5,
            login_max_failures_per_address: 20,
            login_window_secs: 60,
            send_rate_per_sec: 10,
            send_burst: 20,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MessagesConfig {
    pub max_body_chars: usize,
    pub recall_window_secs: i64,
    pub system_accid: String,
    pub dedupe_window_secs: i64,
}

impl Default for MessagesConfig {
    fn default() -> Self {
        MessagesConfig {
            max_body_chars: qunfa_core::message::DEFAULT_MAX_BODY,
            recall_window_secs: 120,
            system_accid: "qunfa.system".into(),
            dedupe_window_secs: 7 * 24 * 3600,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AntispamConfig {
    pub words_file: PathBuf,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    pub max_body_bytes: usize,
    pub curtime_window_secs: i64,
    pub replay_check: ReplayCheck,
    pub app_refresh_ms: u64,
    pub header_timeout_secs: u64,
    pub body_timeout_secs: u64,
    pub max_pending_connections: usize,
    pub trusted_proxies: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    pub url: String,
    pub synchronous_full: bool,
    pub pool_size: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusConfig {
    pub url: String,
    pub poll_ms: u64,
    pub prefix: String,
}

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig {
            url: String::new(),
            poll_ms: 1000,
            prefix: "qunfa".into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    pub enabled: bool,
    pub default: Limit,
    pub batch: Limit,
    pub broadcast: Limit,
    pub team_query: Limit,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./qunfa-data"),
            log: LogConfig::default(),
            bootstrap_app: true,
            metrics: MetricsConfig::default(),
            api: ApiConfig::default(),
            store: StoreConfig::default(),
            bus: BusConfig::default(),
            rate_limits: RateLimits::default(),
            messages: MessagesConfig::default(),
            antispam: AntispamConfig::default(),
            gateway: GatewayConfig::default(),
            teams: TeamsConfig::default(),
            callbacks: CallbacksConfig::default(),
        }
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            max_body_bytes: 4 << 20,
            curtime_window_secs: 300,
            replay_check: ReplayCheck::Strict,
            app_refresh_ms: 1000,
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            max_pending_connections: 1024,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: String::new(),
            synchronous_full: true,
            pool_size: 16,
        }
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            enabled: true,
            default: Limit {
                count: 100,
                per_secs: 1,
                penalty_secs: 10,
            },
            batch: Limit {
                count: 120,
                per_secs: 60,
                penalty_secs: 60,
            },
            broadcast: Limit {
                count: 10,
                per_secs: 60,
                penalty_secs: 60,
            },
            team_query: Limit {
                count: 30,
                per_secs: 60,
                penalty_secs: 60,
            },
        }
    }
}

impl Config {
    /// Builds the effective config. `env` is the process environment as a map (tests pass their
    /// own); `flags` holds command-line overrides as dotted keys.
    pub fn load(
        file: Option<&Path>,
        env: &HashMap<String, String>,
        flags: &[(&str, toml::Value)],
    ) -> anyhow::Result<Config> {
        let mut merged =
            toml::Table::try_from(Config::default()).context("serialising defaults")?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading config file {}", path.display()))?;
            let mut table: toml::Table = toml::from_str(&text)
                .with_context(|| format!("parsing config file {}", path.display()))?;
            observe::upgrade_log_key(&mut table);
            merge(&mut merged, table);
            Self::check(&merged).with_context(|| format!("in config file {}", path.display()))?;
        }
        for (key, path) in env_vars::settings(env) {
            set_dotted(&mut merged, &path, parse_scalar(&env[&key]));
            Self::check(&merged).with_context(|| format!("in environment variable {key}"))?;
        }
        for (path, value) in flags {
            set_dotted(&mut merged, path, value.clone());
        }
        Self::check(&merged)
    }

    fn check(table: &toml::Table) -> anyhow::Result<Config> {
        let cfg: Config = table.clone().try_into()?;
        crate::proxy::TrustedProxies::parse(&cfg.api.trusted_proxies)
            .map_err(anyhow::Error::msg)?;
        if cfg.api.curtime_window_secs < 0 {
            bail!("api.curtime_window_secs must not be negative");
        }
        for (name, l) in [
            ("default", cfg.rate_limits.default),
            ("batch", cfg.rate_limits.batch),
            ("broadcast", cfg.rate_limits.broadcast),
            ("team_query", cfg.rate_limits.team_query),
        ] {
            if l.per_secs == 0 {
                bail!("rate_limits.{name}.per_secs must be at least 1");
            }
        }
        let t = &cfg.teams;
        if !(2..=1_000_000).contains(&t.max_members) {
            bail!("teams.max_members must be 2 to 1000000");
        }
        if t.max_owned == 0 || t.max_joined == 0 {
            bail!("teams.max_owned and teams.max_joined must be at least 1");
        }
        if cfg.gateway.send_rate_per_sec == 0 || cfg.gateway.send_burst == 0 {
            bail!("gateway.send_rate_per_sec and gateway.send_burst must be at least 1");
        }
        let cb = &cfg.callbacks;
        if cb.max_attempts == 0 || cb.concurrency == 0 {
            bail!("callbacks.max_attempts and callbacks.concurrency must be at least 1");
        }
        if cb.timeout_ms == 0 || cb.pre_send_timeout_ms == 0 || cb.poll_ms == 0 {
            bail!("callbacks.timeout_ms, pre_send_timeout_ms and poll_ms must be at least 1");
        }
        if cb.backoff_max_ms < cb.backoff_initial_ms {
            bail!("callbacks.backoff_max_ms must be at least callbacks.backoff_initial_ms");
        }
        if cb.lease_ms == 0 {
            bail!("callbacks.lease_ms must be at least 1");
        }
        Ok(cfg)
    }

    /// The effective config as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot print config: {e}\n"))
    }

    /// The documented example config: every key at its default, with its doc as a comment.
    pub fn example() -> String {
        let defaults = toml::Table::try_from(Config::default()).unwrap_or_default();
        let mut out = String::from(
            "# qunfa configuration. Every key is optional; these are the defaults.\n\
             # Layers: defaults < this file (--config) < QUNFA_* environment variables < flags.\n\
             # An environment variable names a key in capitals with `__` between levels,\n\
             # e.g. QUNFA_API__REPLAY_CHECK=false or QUNFA_RATE_LIMITS__DEFAULT__COUNT=500.\n",
        );
        let mut section = String::new();
        for (path, doc) in DOCS {
            let (sec, key) = path.rsplit_once('.').unwrap_or(("", path));
            if sec != section {
                out.push_str(&format!("\n[{sec}]\n"));
                section = sec.to_owned();
            } else {
                out.push('\n');
            }
            let value = lookup(&defaults, path)
                .map(|v| v.to_string())
                .unwrap_or_default();
            for line in doc.lines() {
                out.push_str(&format!("# {line}\n"));
            }
            out.push_str(&format!("{key} = {value}\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("q.toml");
        std::fs::write(&file, "listen = \"0.0.0.0:1\"\n[api]\nreplay_check = false\n[rate_limits.default]\ncount = 7\n").unwrap();
        let e = env(&[
            ("QUNFA_LISTEN", "0.0.0.0:2"),
            ("QUNFA_RATE_LIMITS__DEFAULT__PENALTY_SECS", "3"),
            ("QUNFA_APPKEY", "not a config key"),
            ("PATH", "/bin"),
        ]);
        let flags = [("data_dir", toml::Value::String("/tmp/x".into()))];
        let c = Config::load(Some(&file), &e, &flags).unwrap();
        assert_eq!(c.listen, "0.0.0.0:2");
        assert_eq!(c.api.replay_check, ReplayCheck::Off);
        assert_eq!(
            c.rate_limits.default,
            Limit {
                count: 7,
                per_secs: 1,
                penalty_secs: 3
            }
        );
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.api.curtime_window_secs, 300);
    }

    #[test]
    fn unknown_keys_are_refused_in_files_and_ignored_in_the_environment() {
        let e = env(&[("QUNFA_LISTN", "x"), ("QUNFA_BIN", "/bin/qunfa")]);
        assert_eq!(Config::load(None, &e, &[]).unwrap(), Config::default());
        let err = Config::load(None, &env(&[("QUNFA_LISTEN", "")]), &[]);
        assert_eq!(err.unwrap().listen, "");
        let err = Config::load(None, &env(&[("QUNFA_API__REPLAY_CHECK", "7")]), &[]).unwrap_err();
        assert!(
            format!("{err:#}").contains("QUNFA_API__REPLAY_CHECK"),
            "{err:#}"
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("q.toml");
        std::fs::write(&file, "[api]\nreplay = false\n").unwrap();
        let err = Config::load(Some(&file), &HashMap::new(), &[]).unwrap_err();
        assert!(
            format!("{err:#}").contains("unknown field `replay`"),
            "{err:#}"
        );
    }

    #[test]
    fn log_as_a_string_is_the_level() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("q.toml");
        std::fs::write(&file, "log = \"debug\"\n").unwrap();
        let e = env(&[("QUNFA_LOG__FORMAT", "json")]);
        let c = Config::load(Some(&file), &e, &[]).unwrap();
        assert_eq!(
            c.log,
            LogConfig {
                level: "debug".into(),
                format: LogFormat::Json,
                access: true
            }
        );
        let c = Config::load(None, &env(&[("QUNFA_LOG", "warn")]), &[]).unwrap();
        assert_eq!(c.log.level, "warn");
        let err = Config::load(None, &env(&[("QUNFA_LOG__FORMAT", "xml")]), &[]).unwrap_err();
        assert!(format!("{err:#}").contains("QUNFA_LOG__FORMAT"), "{err:#}");
    }

    #[test]
    fn trusted_proxies_come_as_a_list_and_each_must_be_an_address_or_network() {
        let var = "QUNFA_API__TRUSTED_PROXIES";
        let c = Config::load(None, &env(&[(var, r#"["10.0.0.0/8", "127.0.0.1"]"#)]), &[]).unwrap();
        assert_eq!(c.api.trusted_proxies, ["10.0.0.0/8", "127.0.0.1"]);
        let err =
            Config::load(None, &env(&[(var, r#"["10.0.0.0/8", "nginx"]"#)]), &[]).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "in environment variable QUNFA_API__TRUSTED_PROXIES: api.trusted_proxies: \"nginx\" is neither an address nor a network (like 10.0.0.0/8)"
        );
    }

    #[test]
    fn every_key_is_documented_and_the_example_is_current() {
        let mut keys = Vec::new();
        leaf_keys(
            &toml::Table::try_from(Config::default()).unwrap(),
            "",
            &mut keys,
        );
        let mut documented: Vec<String> = DOCS.iter().map(|(k, _)| k.to_string()).collect();
        keys.sort();
        documented.sort();
        assert_eq!(keys, documented, "DOCS must list every config key");
        let example: Config = toml::from_str(&Config::example()).unwrap();
        assert_eq!(example, Config::default());
        let committed = include_str!("../../../../qunfa.example.toml");
        assert_eq!(
            committed,
            Config::example(),
            "run `cargo run -- config --example > qunfa.example.toml`"
        );
    }
}
