//! Startup and shutdown. `Server::open` prepares everything (store, migrations, first app,
//! bus, caches); `run` serves a bound listener until the shutdown future resolves. `main`, the
//! tests and the bench tool all go through these two.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use qunfa_core::Store;
use qunfa_core::account::Accid;
use qunfa_core::admission::{Admission, LocalAdmission};
use qunfa_core::auth::App;
use qunfa_core::bus::{Bus, Event};
use qunfa_core::clock::SharedClock;
use qunfa_core::ratelimit::Limits;
use qunfa_service::teams::TeamRules;
use qunfa_service::words::KeywordFilter;
use qunfa_service::{Rules, Services};
use tokio::net::TcpListener;

use crate::api;
use crate::config::Config;
use crate::gateway::{fanout, hub::Hub};
use crate::state::AppState;

pub struct Server {
    pub state: Arc<AppState>,
    events: Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<Event>>>,
    /// The app created on this first start, if any (its secret is shown once).
    pub bootstrapped: Option<App>,
    /// What the store is, for logs.
    pub store_describe: String,
    /// Held for the server's life with the embedded store: one server per data directory.
    _lock: Option<std::fs::File>,
}

fn limits(config: &Config) -> Limits {
    let rl = &config.rate_limits;
    Limits {
        default: rl.default,
        batch: rl.batch,
        broadcast: rl.broadcast,
        team_query: rl.team_query,
    }
}

/// Takes `DIR/serve.lock`: a second server on the same embedded database refuses to start.
fn lock_data_dir(dir: &std::path::Path) -> anyhow::Result<std::fs::File> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating data dir {}", dir.display()))?;
    let lock_path = dir.join("serve.lock");
    let lock = std::fs::File::create(&lock_path)
        .with_context(|| format!("creating {}", lock_path.display()))?;
    lock.try_lock().map_err(|_| {
        anyhow::anyhow!(
            "another qunfa server is already using the data dir {}",
            dir.display()
        )
    })?;
    Ok(lock)
}

impl Server {
    /// Opens the store (applying migrations), creates the first app when there is none and
    /// `bootstrap_app` is on, connects the bus and builds this node's caches.
    pub async fn open(config: Config, clock: SharedClock) -> anyhow::Result<Server> {
        let opts = qunfa_store::Options {
            data_dir: config.data_dir.clone(),
            synchronous_full: config.store.synchronous_full,
            pool_size: config.store.pool_size,
            curtime_window_secs: config.api.curtime_window_secs,
            limits: limits(&config),
        };
        crate::metrics::install();
        let lock = if config.store.url.trim().is_empty() {
            Some(lock_data_dir(&config.data_dir)?)
        } else {
            None
        };
        let backend = qunfa_store::open(&config.store.url, &opts).await?;
        let store: Arc<dyn Store> = backend.store;
        let bus: Arc<dyn Bus> = crate::bus::open(&config.bus).await?;
        let admission: Arc<dyn Admission> = match backend.admission {
            Some(shared) => shared,
            None => Arc::new(LocalAdmission::new(
                config.api.curtime_window_secs,
                limits(&config),
            )),
        };
        let system_accid = Accid::parse(&config.messages.system_accid, "messages.system_accid")
            .map_err(|e| anyhow::anyhow!("bad messages.system_accid: {}", e.desc))?;
        let rules = Rules {
            max_body_chars: config.messages.max_body_chars,
            recall_window_secs: config.messages.recall_window_secs,
            system_accid,
            dedupe_window_secs: config.messages.dedupe_window_secs,
            curtime_window_secs: config.api.curtime_window_secs,
            replay_check: config.api.replay_check,
            rate_limits: config.rate_limits.enabled,
            login_throttle: qunfa_service::login::ThrottleRules {
                per_account: config.gateway.login_max_failures.max(1),
                per_address: config.gateway.login_max_failures_per_address.max(1),
                window_ms: config.gateway.login_window_secs.max(1) as i64 * 1000,
            },
        };
        let words = KeywordFilter::load_global(&config.antispam.words_file)?;
        let hub = Arc::new(Hub::new(config.gateway.queue_frames));
        let events = bus
            .subscribe()
            .context("the bus was already subscribed to")?;
        let t = &config.teams;
        let team_rules = TeamRules {
            max_members: t.max_members,
            max_owned: t.max_owned,
            max_joined: t.max_joined,
            max_managers: t.max_managers,
            read_receipts: t.read_receipts,
        };
        let callbacks = crate::callbacks::Callbacks::new(
            store.clone(),
            clock.clone(),
            config.callbacks.clone(),
        );
        let services = Arc::new(
            Services::new(
                store.clone(),
                bus,
                admission,
                clock,
                rules,
                words,
                hub.clone(),
            )
            .with_team_rules(team_rules)
            .with_client_send_rate(config.gateway.send_rate_per_sec, config.gateway.send_burst)
            .with_hooks(callbacks.clone()),
        );
        // Last of what can fail, so a start that fails never leaves an app whose secret was
        // not shown (`qunfa app list` shows it anyway).
        let bootstrapped = if config.bootstrap_app {
            store.bootstrap_app("default").await?
        } else {
            None
        };
        let apps = services.apps.reload().await?;
        let started = std::time::Instant::now();
        services
            .indexes
            .warm(&apps.iter().map(|a| a.id).collect::<Vec<_>>())
            .await?;
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            apps = apps.len(),
            "audience indexes built"
        );
        let state = Arc::new(AppState {
            config,
            services,
            hub,
            callbacks,
        });
        Ok(Server {
            state,
            events: Mutex::new(Some(events)),
            bootstrapped,
            store_describe: backend.describe,
            _lock: lock,
        })
    }
}

/// Serves the API and the gateway on `listener` until `shutdown` resolves, then shuts down
/// in phases: stop accepting, close client sessions (1001), let requests in flight finish,
/// stop the bus subscriber, flush delivery tracking.
pub async fn run(
    listener: TcpListener,
    server: Arc<Server>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let state = server.state.clone();
    let events = server
        .events
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .context("this server is already running")?;
    let services = state.services.clone();
    let heads = services.store.heads().await?;
    let (fanout, fanout_task) = fanout::spawn(services.clone(), state.hub.clone(), heads);
    let mut tasks = crate::node::spawn(
        services.clone(),
        state.hub.clone(),
        fanout,
        events,
        Duration::from_millis(state.config.bus.poll_ms.max(10)),
        Duration::from_millis(state.config.api.app_refresh_ms.max(10)),
    );
    tasks.push(fanout_task);
    let g = &state.config.gateway;
    tasks.push(state.hub.spawn_sweeper(
        Duration::from_secs(g.ping_secs.max(1)),
        Duration::from_secs(g.idle_timeout_secs.max(1)),
    ));
    tasks.extend(crate::metrics::spawn_upkeep());
    tasks.push(
        services
            .tracker
            .spawn_flusher(Duration::from_millis(state.config.gateway.flush_ms.max(10))),
    );
    let callback_tasks = state.callbacks.spawn(services.clone());
    let router = api::router(state.clone());
    let hub = state.hub.clone();
    let stopping = async move {
        shutdown.await;
        hub.close_all();
    };
    let c = &state.config;
    let limits = crate::http::Limits {
        header_timeout: Duration::from_secs(c.api.header_timeout_secs.max(1)),
        max_pending: c.api.max_pending_connections.max(1),
        send_buffer_bytes: c.gateway.send_buffer_bytes,
        proxies: Arc::new(
            crate::proxy::TrustedProxies::parse(&c.api.trusted_proxies)
                .map_err(anyhow::Error::msg)?,
        ),
    };
    crate::http::serve(listener, router, limits, stopping).await;
    for t in tasks {
        t.abort();
    }
    // The sessions are closed: their logout events are queued. Stop the login writer, then
    // write what it had not taken yet.
    for t in callback_tasks {
        t.abort();
        let _ = t.await;
    }
    state.callbacks.flush_logins().await;
    if let Err(e) = services.tracker.flush().await {
        tracing::error!(error = %e, "final flush of delivery tracking failed");
    }
    Ok(())
}

/// Serves `/metrics`, `/healthz` and `/readyz` on `listener` (`metrics.listen`) until
/// `shutdown` resolves.
pub async fn serve_metrics(
    listener: TcpListener,
    server: Arc<Server>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let c = &server.state.config;
    let limits = crate::http::Limits {
        header_timeout: Duration::from_secs(c.api.header_timeout_secs.max(1)),
        max_pending: 64,
        send_buffer_bytes: 0,
        proxies: Default::default(),
    };
    let router = crate::health::router(server.state.clone());
    crate::http::serve(listener, router, limits, shutdown).await;
}
