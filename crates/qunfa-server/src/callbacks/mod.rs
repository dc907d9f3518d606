//! Delivering the callback outbox (抄送) to apps' servers, and the pre-send check (第三方回调).
//!
//! The outbox is written by the store with what it describes (see `qunfa_core::callback`).
//! This node's supervisor looks for apps with events due (at once for events this node just
//! wrote, every `callbacks.poll_ms` for the rest: other nodes' writes, retries, resends) and
//! runs one task per such app, at most `callbacks.concurrency` at once. A task first takes the
//! app's lease in the store, so on a shared store one node at a time delivers an app's events;
//! it sends them one at a time in outbox order (= msgid order), retries failures on their own
//! schedule, and gives the lease up when nothing is due. A slow receiver only holds its own
//! app's task.
//!
//! Login and logout events come from the gateway: queued in memory and written in batches by
//! one task (`logins.rs`), off the login path.

mod deliver;
mod http;
mod logins;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use qunfa_core::Store;
use qunfa_core::auth::App;
use qunfa_core::callback::{Backoff, Hooks, PreSendAnswer, pre_send_answer};
use qunfa_core::clock::SharedClock;
use qunfa_core::ids::AppId;
use qunfa_service::Services;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;

pub use logins::{LoginEvent, copy_login};

use crate::config::{CallbacksConfig, PreSendPolicy};

/// Outbox events read per store query by an app's task.
const PAGE: usize = 64;
/// How often the outbox depth gauges are refreshed (a count over the outbox).
const GAUGE_EVERY: Duration = Duration::from_secs(5);

/// The node's callback machinery; the service layer sees it as [`Hooks`].
pub struct Callbacks {
    store: Arc<dyn Store>,
    clock: SharedClock,
    cfg: CallbacksConfig,
    http: reqwest::Client,
    /// This process, as lease holder.
    node: String,
    pokes: mpsc::UnboundedSender<AppId>,
    poked: Mutex<Option<mpsc::UnboundedReceiver<AppId>>>,
    logins: logins::Queue,
}

impl Callbacks {
    pub fn new(store: Arc<dyn Store>, clock: SharedClock, cfg: CallbacksConfig) -> Arc<Callbacks> {
        let (pokes, poked) = mpsc::unbounded_channel();
        Arc::new(Callbacks {
            store,
            clock,
            cfg,
            http: http::client(),
            node: format!("{}-{}", std::process::id(), qunfa_core::random_hex(6)),
            pokes,
            poked: Mutex::new(Some(poked)),
            logins: logins::Queue::new(),
        })
    }

    fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    fn backoff(&self) -> Backoff {
        Backoff {
            initial_ms: self.cfg.backoff_initial_ms,
            max_ms: self.cfg.backoff_max_ms,
            max_attempts: self.cfg.max_attempts,
        }
    }

    /// Queues a gateway login or logout for the outbox (written by the login task, in
    /// batches); never waits.
    pub fn login_event(&self, ev: LoginEvent) {
        self.logins.push(ev);
    }

    /// Starts the supervisor and the login writer; abort the handles to stop (call
    /// [`Callbacks::flush_logins`] first to write what is queued).
    pub fn spawn(self: &Arc<Self>, services: Arc<Services>) -> Vec<JoinHandle<()>> {
        let mut tasks = vec![self.logins.spawn(self.clone())];
        if let Some(rx) = self.poked.lock().unwrap_or_else(|e| e.into_inner()).take() {
            tasks.push(tokio::spawn(self.clone().supervise(services, rx)));
        }
        tasks
    }

    /// Writes the queued login events now (at shutdown, after the sessions closed).
    pub async fn flush_logins(&self) {
        self.logins.flush(self).await;
    }

    async fn supervise(
        self: Arc<Self>,
        services: Arc<Services>,
        mut poked: mpsc::UnboundedReceiver<AppId>,
    ) {
        let running: Arc<Mutex<HashMap<AppId, bool>>> = Arc::default();
        let permits = Arc::new(Semaphore::new(self.cfg.concurrency.max(1)));
        let mut tick = tokio::time::interval(Duration::from_millis(self.cfg.poll_ms.max(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut gauges = tokio::time::Instant::now();
        loop {
            let apps = tokio::select! {
                first = poked.recv() => {
                    let Some(first) = first else { return };
                    let mut apps = vec![first];
                    while let Ok(a) = poked.try_recv() {
                        apps.push(a);
                    }
                    apps
                }
                _ = tick.tick() => {
                    if gauges.elapsed() >= GAUGE_EVERY {
                        gauges = tokio::time::Instant::now();
                        self.refresh_gauges().await;
                    }
                    match self.store.due_callback_apps(self.now_ms()).await {
                        Ok(apps) => apps,
                        Err(e) => {
                            tracing::warn!(error = %e, "looking for callback events failed; will retry");
                            continue;
                        }
                    }
                }
            };
            for app in apps {
                self.start(app, &services, &running, &permits);
            }
        }
    }

    /// Runs the app's task unless it runs already (then it looks once more before it ends).
    fn start(
        self: &Arc<Self>,
        app: AppId,
        services: &Arc<Services>,
        running: &Arc<Mutex<HashMap<AppId, bool>>>,
        permits: &Arc<Semaphore>,
    ) {
        {
            let mut r = running.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(again) = r.get_mut(&app) {
                *again = true;
                return;
            }
            r.insert(app, false);
        }
        let (me, services, running, permits) = (
            self.clone(),
            services.clone(),
            running.clone(),
            permits.clone(),
        );
        tokio::spawn(async move {
            let Ok(_permit) = permits.acquire_owned().await else {
                return;
            };
            loop {
                me.deliver_app(&services, app).await;
                let mut r = running.lock().unwrap_or_else(|e| e.into_inner());
                match r.get_mut(&app) {
                    Some(again) if *again => *again = false,
                    _ => {
                        r.remove(&app);
                        return;
                    }
                }
            }
        });
    }

    async fn refresh_gauges(&self) {
        match self.store.callback_totals().await {
            Ok((pending, dead)) => {
                metrics::gauge!("qunfa_callback_outbox_pending").set(pending as f64);
                metrics::gauge!("qunfa_callback_dead_letters").set(dead as f64);
            }
            Err(e) => tracing::warn!(error = %e, "counting the callback outbox failed"),
        }
    }
}

#[async_trait::async_trait]
impl Hooks for Callbacks {
    fn queued(&self, app: AppId) {
        let _ = self.pokes.send(app);
    }

    async fn pre_send(&self, app: &App, payload: String) -> PreSendAnswer {
        let url = &app.callbacks.pre_send_url;
        let timeout = Duration::from_millis(self.cfg.pre_send_timeout_ms.max(1));
        let why = match http::post(&self.http, url, app, payload, self.now_ms(), timeout).await {
            Ok(a) if a.status == 200 => match pre_send_answer(&a.body) {
                PreSendAnswer::Invalid(why) => why,
                answer => return answer,
            },
            Ok(a) => format!("HTTP {}", a.status),
            Err(why) => why,
        };
        let policy = self.cfg.pre_send_on_failure;
        metrics::counter!("qunfa_callback_pre_send_failures_total").increment(1);
        tracing::warn!(appkey = %app.appkey, error = %why, policy = ?policy, "pre-send check failed");
        match policy {
            PreSendPolicy::Pass => PreSendAnswer::Pass { body: None },
            PreSendPolicy::Block => PreSendAnswer::Block {
                response_code: None,
            },
        }
    }
}
