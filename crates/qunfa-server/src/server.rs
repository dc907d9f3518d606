//! Startup and shutdown. `Server::open` prepares everything (store, migrations, first app);
//! `run` serves a bound listener until the shutdown future resolves. `main`, the tests and the
//! bench tool all go through these two.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use qunfa_core::Store;
use qunfa_core::auth::App;
use qunfa_core::clock::SharedClock;
use qunfa_store::{SqliteOptions, SqliteStore};
use tokio::net::TcpListener;

use crate::api;
use crate::config::Config;
use crate::state::AppState;

pub struct Server {
    pub state: Arc<AppState>,
    fanout: std::sync::Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<crate::hub::Published>>>,
    /// The app created on this first start, if any (its secret is shown once).
    pub bootstrapped: Option<App>,
    /// Held for the server's life: one server per data directory.
    _lock: std::fs::File,
}

impl Server {
    /// Opens the data directory (taking its lock), applies migrations, and creates the first
    /// app when there is none and `bootstrap_app` is on.
    pub async fn open(config: Config, clock: SharedClock) -> anyhow::Result<Server> {
        let dir = &config.data_dir;
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating data dir {}", dir.display()))?;
        let lock_path = dir.join("serve.lock");
        let lock = std::fs::File::create(&lock_path)
            .with_context(|| format!("creating {}", lock_path.display()))?;
        lock.try_lock().map_err(|_| {
            anyhow::anyhow!(
                "another qunfa server is already using the data dir {}",
                dir.display()
            )
        })?;
        let opts = SqliteOptions {
            synchronous_full: config.storage.synchronous_full,
        };
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_dir(dir, &opts)?);
        let bootstrapped = if config.bootstrap_app && store.list_apps().await?.is_empty() {
            Some(store.create_app("default").await?)
        } else {
            None
        };
        let words = crate::antispam::KeywordFilter::load_global(&config.antispam.words_file)?;
        let (state, fanout) = AppState::new(config, store, clock, words);
        let state = Arc::new(state);
        state.apps.reload().await?;
        let started = std::time::Instant::now();
        state.indexes.warm().await?;
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "audience indexes built"
        );
        Ok(Server {
            state,
            fanout: std::sync::Mutex::new(Some(fanout)),
            bootstrapped,
            _lock: lock,
        })
    }
}

/// Serves the API and the gateway on `listener` until `shutdown` resolves, then shuts down
/// in phases: stop accepting, close client sessions (1001), let requests in flight finish,
/// flush delivery tracking.
pub async fn run(
    listener: TcpListener,
    server: Arc<Server>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let state = server.state.clone();
    let fanout = server
        .fanout
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .context("this server is already running")?;
    let fanout_task = tokio::spawn(state.hub.clone().run_fanout(fanout));
    let refresher = state.apps.spawn_refresher(Duration::from_millis(
        state.config.api.app_refresh_ms.max(10),
    ));
    let flusher = state
        .tracker
        .spawn_flusher(Duration::from_millis(state.config.gateway.flush_ms.max(10)));
    let router = api::router(state.clone());
    let hub = state.hub.clone();
    let stopping = async move {
        shutdown.await;
        hub.close_all();
    };
    // Small frames (a login answer, one message) must not wait for Nagle's delayed ACK.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    let result = axum::serve(listener, router)
        .with_graceful_shutdown(stopping)
        .await;
    refresher.abort();
    flusher.abort();
    fanout_task.abort();
    if let Err(e) = state.tracker.flush().await {
        tracing::error!(error = %e, "final flush of delivery tracking failed");
    }
    result.context("serving HTTP")
}
