//! Gateway logins and logouts for the outbox, off the login path: a session queues its event
//! (never waiting) and one task writes whatever is queued in one store write, so a burst of
//! logins costs a few writes, not one each.
//!
//! What that guarantees: an event is durable once its batch is written, normally within a
//! few milliseconds of the login or logout, and from then on it is delivered at least once
//! like any other. An event still queued when the process dies (SIGKILL, a crash) is lost;
//! a clean shutdown writes the queue after the sessions closed. While the store is
//! unreachable, up to `QUEUE` events wait in memory (the write is retried); past that new ones
//! are dropped and counted (`qunfa_callback_login_events_dropped_total`).

use std::sync::Arc;
use std::time::Duration;

use qunfa_core::callback::{NewEvent, event};
use qunfa_core::ids::AppId;
use serde_json::{Map, Value};
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;

use super::Callbacks;

/// Events waiting to be written, at most.
const QUEUE: usize = 65_536;
/// Most events in one write.
const MAX_BATCH: usize = 4096;
/// Wait before writing a failed batch again.
const RETRY: Duration = Duration::from_millis(500);

/// One login or logout of a gateway session.
#[derive(Clone, Debug)]
pub struct LoginEvent {
    pub app: AppId,
    /// `false`: the logout.
    pub login: bool,
    pub accid: String,
    pub client_ip: String,
    pub client_type: String,
    pub device_id: String,
    pub sdk_version: String,
    pub timestamp: i64,
}

impl LoginEvent {
    /// NIM's payload (every value a string).
    fn into_event(self) -> NewEvent {
        let t = if self.login {
            event::LOGIN
        } else {
            event::LOGOUT
        };
        let mut o = Map::new();
        let mut put = |k: &str, v: String| {
            o.insert(k.into(), Value::String(v));
        };
        put("eventType", t.into());
        put("accid", self.accid);
        put("clientIp", self.client_ip);
        put("clientType", self.client_type);
        put("code", "200".into());
        put("deviceId", self.device_id);
        put("sdkVersion", self.sdk_version);
        put("timestamp", self.timestamp.to_string());
        NewEvent {
            app: self.app,
            event_type: t.into(),
            payload: Value::Object(o).to_string(),
        }
    }
}

pub(super) struct Queue {
    tx: mpsc::Sender<LoginEvent>,
    rx: Mutex<mpsc::Receiver<LoginEvent>>,
}

impl Queue {
    pub(super) fn new() -> Queue {
        let (tx, rx) = mpsc::channel(QUEUE);
        Queue {
            tx,
            rx: Mutex::new(rx),
        }
    }

    pub(super) fn push(&self, ev: LoginEvent) {
        if self.tx.try_send(ev).is_err() {
            metrics::counter!("qunfa_callback_login_events_dropped_total").increment(1);
            tracing::warn!("login event queue full: a login or logout event is not copied");
        }
    }

    pub(super) fn spawn(&self, cb: Arc<Callbacks>) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                let mut rx = cb.logins.rx.lock().await;
                let Some(first) = rx.recv().await else { return };
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(e) => batch.push(e),
                        Err(_) => break,
                    }
                }
                drop(rx);
                write(&cb, batch).await;
            }
        })
    }

    /// Writes what is queued now (shutdown).
    pub(super) async fn flush(&self, cb: &Callbacks) {
        let mut rx = self.rx.lock().await;
        let mut batch = Vec::new();
        while let Ok(e) = rx.try_recv() {
            batch.push(e);
        }
        drop(rx);
        if !batch.is_empty() {
            write_once(cb, batch).await;
        }
    }
}

/// Writes a batch, retrying while the store fails (the queue fills meanwhile).
async fn write(cb: &Callbacks, batch: Vec<LoginEvent>) {
    let events: Vec<NewEvent> = batch.into_iter().map(LoginEvent::into_event).collect();
    loop {
        match cb
            .store
            .add_callback_events(events.clone(), cb.now_ms())
            .await
        {
            Ok(()) => break,
            Err(e) => {
                tracing::warn!(error = %e, events = events.len(), "writing login events failed; retrying");
                tokio::time::sleep(RETRY).await;
            }
        }
    }
    poke(cb, &events);
}

async fn write_once(cb: &Callbacks, batch: Vec<LoginEvent>) {
    let events: Vec<NewEvent> = batch.into_iter().map(LoginEvent::into_event).collect();
    match cb
        .store
        .add_callback_events(events.clone(), cb.now_ms())
        .await
    {
        Ok(()) => poke(cb, &events),
        Err(e) => {
            tracing::error!(error = %e, events = events.len(), "writing login events at shutdown failed: they are not copied")
        }
    }
}

fn poke(cb: &Callbacks, events: &[NewEvent]) {
    let mut apps: Vec<AppId> = events.iter().map(|e| e.app).collect();
    apps.sort();
    apps.dedup();
    for app in apps {
        let _ = cb.pokes.send(app);
    }
}

/// Queues the session's login (or logout) for the app's server, when the app copies them.
pub fn copy_login(
    s: &crate::state::AppState,
    who: &qunfa_service::login::Session,
    peer: Option<std::net::IpAddr>,
    login: bool,
) {
    let copies = s
        .services
        .apps
        .by_id(who.app.id)
        .is_some_and(|a| a.callbacks.copies_logins());
    if !copies {
        return;
    }
    s.callbacks.login_event(LoginEvent {
        app: who.app.id,
        login,
        accid: who.accid.to_string(),
        client_ip: peer.map(|p| p.to_string()).unwrap_or_default(),
        client_type: who.client.client_type.clone(),
        device_id: who.client.device_id.clone(),
        sdk_version: who.client.sdk_version.clone(),
        timestamp: s.services.now_ms(),
    });
}
