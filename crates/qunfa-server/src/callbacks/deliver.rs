//! One app's task: holds the app's lease while it sends what is due, one event at a time in
//! outbox order. A 200 removes the event; anything else schedules its next attempt (or makes
//! it a dead letter) without holding back the events after it.

use std::time::Duration;

use qunfa_core::callback::{self, CallbackEvent, Failed};
use qunfa_core::ids::AppId;
use qunfa_service::Services;

use super::{Callbacks, PAGE, http};

impl Callbacks {
    /// Sends the app's due events while this node holds its lease; ends when nothing is due,
    /// the app has no URL any more, the lease went to another node, or the store failed (the
    /// next poll tries again).
    pub(super) async fn deliver_app(&self, services: &Services, app: AppId) {
        let lease_ms = i64::try_from(self.cfg.lease_ms).unwrap_or(i64::MAX);
        let mut lease_until = match self.claim(app, lease_ms).await {
            Some(until) => until,
            None => return,
        };
        while services
            .apps
            .by_id(app)
            .is_some_and(|a| !a.callbacks.url.is_empty())
        {
            let due = match self
                .store
                .due_callback_events(app, self.now_ms(), PAGE)
                .await
            {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(app = %app, error = %e, "reading the callback outbox failed");
                    break;
                }
            };
            if due.is_empty() {
                break;
            }
            for ev in due {
                // Renewed once half of it is used, so it never lapses during one attempt.
                if self.now_ms() > lease_until - lease_ms / 2 {
                    match self.claim(app, lease_ms).await {
                        Some(until) => lease_until = until,
                        None => return,
                    }
                }
                let Some(a) = services.apps.by_id(app) else {
                    break;
                };
                if a.callbacks.url.is_empty() {
                    break;
                }
                if let Err(e) = self.attempt(&a, ev).await {
                    tracing::warn!(app = %app, error = %e, "recording a callback attempt failed");
                    self.release(app).await;
                    return;
                }
            }
        }
        self.release(app).await;
    }

    /// Takes or renews the app's lease; answers until when it holds.
    async fn claim(&self, app: AppId, lease_ms: i64) -> Option<i64> {
        let now = self.now_ms();
        match self
            .store
            .claim_callbacks(app, &self.node, now, lease_ms)
            .await
        {
            Ok(true) => Some(now.saturating_add(lease_ms)),
            Ok(false) => None,
            Err(e) => {
                tracing::warn!(app = %app, error = %e, "taking the callback lease failed");
                None
            }
        }
    }

    async fn release(&self, app: AppId) {
        if let Err(e) = self.store.release_callbacks(app, &self.node).await {
            tracing::warn!(app = %app, error = %e, "giving the callback lease up failed");
        }
    }

    /// One attempt at one event, recorded in the store.
    async fn attempt(
        &self,
        a: &qunfa_core::auth::App,
        ev: CallbackEvent,
    ) -> qunfa_core::StoreResult<()> {
        let body = callback::render(&ev);
        let timeout = Duration::from_millis(self.cfg.timeout_ms.max(1));
        let outcome = http::post(
            &self.http,
            &a.callbacks.url,
            a,
            body,
            self.now_ms(),
            timeout,
        )
        .await;
        let why = match outcome {
            Ok(answer) if answer.status == 200 => {
                metrics::counter!("qunfa_callback_delivered_total").increment(1);
                return self.store.callback_delivered(a.id, ev.id).await;
            }
            Ok(answer) => format!("HTTP {}", answer.status),
            Err(why) => why,
        };
        metrics::counter!("qunfa_callback_failures_total").increment(1);
        let attempts = ev.attempts.saturating_add(1);
        let next = self.backoff().after(attempts, self.now_ms());
        match &next {
            Failed::Dead => {
                metrics::counter!("qunfa_callback_dead_letters_total").increment(1);
                tracing::warn!(appkey = %a.appkey, event_id = ev.id, attempts, error = %why,
                    "callback event gave up: kept as a dead letter");
            }
            Failed::Retry { next_ms } => {
                tracing::debug!(appkey = %a.appkey, event_id = ev.id, attempts, error = %why,
                    retry_in_ms = next_ms - self.now_ms(), "callback attempt failed");
            }
        }
        self.store
            .callback_failed(a.id, ev.id, attempts, next, &why)
            .await
    }
}
