//! The server's log: to stderr, filtered by `log.level`, as text or one JSON object per line
//! (`log.format`). Text is coloured only when stderr is a terminal and `NO_COLOR` is unset or
//! empty, so colour codes never end up in a log file.

use std::fmt;
use std::io::IsTerminal;

use anyhow::Context;
use qunfa_server::config::{LogConfig, LogFormat};
use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Installs the logger. Lines are written to stderr by a thread of their own (one access line
/// per API call must not cost each request a `write` system call); the answered guard flushes
/// what is pending when dropped, so keep it until the process ends. The writer never drops a
/// line: when it falls behind, logging waits.
pub fn init(cfg: &LogConfig) -> anyhow::Result<tracing_appender::non_blocking::WorkerGuard> {
    let filter = EnvFilter::try_new(&cfg.level)
        .with_context(|| format!("bad log.level filter {:?}", cfg.level))?;
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("qunfa-log")
        .finish(std::io::stderr());
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let installed = match cfg.format {
        LogFormat::Text => fmt.with_ansi(colour).try_init(),
        LogFormat::Json => fmt.with_ansi(false).event_format(JsonLines).try_init(),
    };
    installed.map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))?;
    Ok(guard)
}

/// `{"ts":"2025-01-01T00:00:00.000000Z","level":"info","target":"…","msg":"…",<fields>}`.
struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut ts = String::new();
        SystemTime.format_time(&mut Writer::new(&mut ts))?;
        let meta = event.metadata();
        let mut fields = Fields(Vec::new());
        event.record(&mut fields);
        let msg = fields
            .0
            .iter()
            .position(|(k, _)| *k == "message")
            .map(|i| fields.0.remove(i).1)
            .unwrap_or(Value::String(String::new()));
        let mut line = format!(
            "{{\"ts\":{},\"level\":{},\"target\":{},\"msg\":{}",
            Value::String(ts),
            Value::String(meta.level().as_str().to_ascii_lowercase()),
            Value::String(meta.target().to_owned()),
            msg
        );
        for (k, v) in fields.0 {
            line.push(',');
            line.push_str(&Value::String(k.to_owned()).to_string());
            line.push(':');
            line.push_str(&v.to_string());
        }
        line.push('}');
        writeln!(writer, "{line}")
    }
}

/// An event's fields in the order they were given, numbers and booleans as JSON values.
struct Fields(Vec<(&'static str, Value)>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .push((field.name(), Value::String(format!("{value:?}"))));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name(), Value::String(value.to_owned())));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.push((field.name(), value.into()));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.push((field.name(), value.into()));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.push((field.name(), value.into()));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        // NaN and infinities have no JSON number: null.
        self.0.push((field.name(), value.into()));
    }
}
