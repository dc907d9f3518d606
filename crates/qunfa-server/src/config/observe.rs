//! `[log]` and `[metrics]`: how the server reports on itself.

use serde::{Deserialize, Serialize};

/// `[log]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// The filter, in `RUST_LOG` syntax.
    pub level: String,
    pub format: LogFormat,
    /// One line per API call (target `qunfa::access`).
    pub access: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: LogFormat::Text,
            access: true,
        }
    }
}

/// `log.format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (coloured only when stderr is a terminal and `NO_COLOR` is unset).
    Text,
    /// One JSON object per line: `ts`, `level`, `target`, `msg`, and the event's fields.
    Json,
}

/// `[metrics]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Empty: `/metrics` is on the API listener. An address: `/metrics` (with `/healthz` and
    /// `/readyz`) is served there instead, and the API listener answers 404 for it.
    pub listen: String,
}

/// A config file written before `[log]` had a format says `log = "debug"`: that is the level.
pub(super) fn upgrade_log_key(table: &mut toml::Table) {
    if let Some(toml::Value::String(level)) = table.get("log") {
        let mut t = toml::Table::new();
        t.insert("level".into(), toml::Value::String(level.clone()));
        table.insert("log".into(), toml::Value::Table(t));
    }
}
