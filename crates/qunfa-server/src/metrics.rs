//! Prometheus metrics: the `metrics` crate's facade with its Prometheus exporter installed as
//! the process's global recorder, so any code can record with `counter!`, `gauge!` and
//! `histogram!` and the value shows on `GET /metrics`.
//!
//! Every metric qunfa has is described here (its HELP text, its histogram buckets), and the
//! ones without a natural first value are set to zero at install, so a scrape of a fresh
//! server lists them all. Labels are bounded sets (an endpoint, a code, a result, a backend):
//! never a user, team or message.
//!
//! The fan-out path records nothing: the hub already counts deliveries per batch in an atomic,
//! and this module copies it (with the session count and the bus state) into the registry
//! when `/metrics` is scraped.

use std::sync::OnceLock;
use std::sync::atomic::Ordering;
use std::time::Duration;

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

pub const API_REQUESTS: &str = "qunfa_api_requests_total";
pub const API_DURATION: &str = "qunfa_api_request_duration_seconds";
pub const GATEWAY_SESSIONS: &str = "qunfa_gateway_sessions";
pub const GATEWAY_LOGINS: &str = "qunfa_gateway_logins_total";
pub const DELIVERIES: &str = "qunfa_deliveries_total";
pub const SLOW_CLOSES: &str = "qunfa_gateway_slow_closes_total";
pub const STORE_COMMIT: &str = qunfa_store::COMMIT_METRIC;
pub const CATCHUP_MESSAGES: &str = "qunfa_catchup_messages";
pub const BUS_CONNECTED: &str = "qunfa_bus_connected";
pub const CALLBACK_PENDING: &str = "qunfa_callback_outbox_pending";
pub const CALLBACK_FAILURES: &str = "qunfa_callback_failures_total";
pub const BUILD_INFO: &str = "qunfa_build_info";

/// Seconds, from half a millisecond (a cached read) to 10 s (a stuck store).
const SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Messages replayed at login, from none to a long absence.
const MESSAGES: &[f64] = &[0.0, 1.0, 10.0, 100.0, 1000.0, 10_000.0, 100_000.0];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the global recorder (once per process; later calls answer the same handle).
/// `None` when another recorder was installed first: `/metrics` then says so.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = [API_DURATION, STORE_COMMIT]
                .into_iter()
                .map(|m| (m, SECONDS))
                .chain([(CATCHUP_MESSAGES, MESSAGES)])
                .try_fold(PrometheusBuilder::new(), |b, (name, buckets)| {
                    b.set_buckets_for_metric(Matcher::Full(name.into()), buckets)
                });
            let handle = match builder.and_then(|b| b.install_recorder()) {
                Ok(h) => h,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot install the metrics recorder; /metrics stays empty");
                    return None;
                }
            };
            describe();
            Some(handle)
        })
        .as_ref()
}

fn describe() {
    describe_counter!(
        API_REQUESTS,
        Unit::Count,
        "API calls answered, by endpoint (`user/create`; `other` for unknown paths) and NIM code"
    );
    describe_histogram!(
        API_DURATION,
        Unit::Seconds,
        "Time from a request reaching the router to its answer being ready, by endpoint"
    );
    describe_gauge!(
        GATEWAY_SESSIONS,
        Unit::Count,
        "WebSocket sessions logged in on this node"
    );
    describe_counter!(
        GATEWAY_LOGINS,
        Unit::Count,
        "Gateway logins by result: ok, wrong_token, blocked, throttled, forbidden, bad_request, error"
    );
    describe_counter!(
        DELIVERIES,
        Unit::Count,
        "Live frames handed to sessions' send queues on this node (catch-up not included)"
    );
    describe_counter!(
        SLOW_CLOSES,
        Unit::Count,
        "Sessions closed with 4008 because their send queue was full"
    );
    describe_histogram!(
        STORE_COMMIT,
        Unit::Seconds,
        "Duration of one group commit of the store's writer, by backend"
    );
    describe_histogram!(
        CATCHUP_MESSAGES,
        Unit::Count,
        "Messages replayed to a session after its login, before `synced`"
    );
    describe_gauge!(
        BUS_CONNECTED,
        Unit::Count,
        "1 while the bus reaches the other nodes (always 1 in-process); 0 while NATS is away and nodes poll the store"
    );
    describe_gauge!(
        CALLBACK_PENDING,
        Unit::Count,
        "抄送 events in the outbox not yet accepted by the app's server"
    );
    describe_counter!(
        CALLBACK_FAILURES,
        Unit::Count,
        "抄送 attempts that failed (non-200 answer, timeout, connection error)"
    );
    describe_gauge!(
        BUILD_INFO,
        Unit::Count,
        "Always 1; the labels say which build runs"
    );
    for m in [DELIVERIES, SLOW_CLOSES, CALLBACK_FAILURES] {
        metrics::counter!(m).absolute(0);
    }
    for m in [GATEWAY_SESSIONS, CALLBACK_PENDING] {
        metrics::gauge!(m).set(0.0);
    }
    metrics::gauge!(
        BUILD_INFO,
        "version" => crate::VERSION,
        "commit" => crate::COMMIT,
    )
    .set(1.0);
}

/// `GET /metrics`: the registry in Prometheus' text format, after copying in what this node
/// keeps outside it (sessions, deliveries, the bus state).
pub fn render(state: &AppState) -> Option<String> {
    let handle = install()?;
    metrics::gauge!(GATEWAY_SESSIONS).set(state.hub.sessions() as f64);
    metrics::counter!(DELIVERIES).absolute(state.hub.counters.deliveries.load(Ordering::Relaxed));
    let up = state.services.bus.connected();
    metrics::gauge!(BUS_CONNECTED).set(if up { 1.0 } else { 0.0 });
    Some(handle.render())
}

/// Drains histogram samples into their buckets every few seconds, so memory stays flat
/// between scrapes (or without any).
pub fn spawn_upkeep() -> Option<tokio::task::JoinHandle<()>> {
    let handle = install()?;
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            handle.run_upkeep();
        }
    }))
}

/// The `result` label of a gateway login.
pub fn login_result(code: Option<qunfa_core::Code>) -> &'static str {
    use qunfa_core::Code;
    match code {
        None => "ok",
        Some(Code::BadLogin) => "wrong_token",
        Some(Code::Banned | Code::AccountDisabled) => "blocked",
        Some(Code::RateLimited) => "throttled",
        Some(Code::Forbidden) => "forbidden",
        Some(Code::Internal) => "error",
        Some(_) => "bad_request",
    }
}
