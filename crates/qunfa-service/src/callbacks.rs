//! 抄送 (message copy) and 第三方回调 (pre-send check), the use-case side: an app's settings
//! (`app/setCallback`, `qunfa app update`), its dead letters and their resending, and the one
//! rule every write path follows: **a message is copied when its app has a callback URL with
//! its kind selected** (as this node last read the app: another node's change takes effect here
//! within `api.app_refresh_ms`). The outbox row is then written by the store in the same
//! transaction as the message; apps without a URL add nothing to their writes.

use qunfa_core::auth::App;
use qunfa_core::callback::{self, AppCallbacks, CallbackEvent, Events, Summary};
use qunfa_core::ids::AppId;
use qunfa_core::message::{MsgKind, NewMessage};
use qunfa_core::{ApiError, Code};

use crate::Services;

/// A change of an app's callback settings: `None` leaves a setting as it is.
#[derive(Clone, Debug, Default)]
pub struct CallbackUpdate {
    pub url: Option<String>,
    pub events: Option<Events>,
    pub pre_send_url: Option<String>,
}

/// Most dead letters one listing answers.
pub const MAX_DEAD_PAGE: usize = 1000;

impl Services {
    /// Whether the app copies messages of `kind` (recalls: `MsgKind::Recall`).
    pub fn copying(&self, app: AppId, kind: MsgKind) -> bool {
        self.apps
            .by_id(app)
            .is_some_and(|a| a.callbacks.copies(kind))
    }

    /// Marks which of `msgs` are copied (a context already set by the caller is kept); answers
    /// whether any is.
    pub(crate) fn stamp<'a>(
        &self,
        app: AppId,
        msgs: impl IntoIterator<Item = &'a mut NewMessage>,
    ) -> bool {
        let a = self.apps.by_id(app);
        let cb = a.as_ref().map(|a| &a.callbacks);
        let mut any = false;
        for m in msgs {
            match cb {
                Some(cb) if cb.copies(m.kind) => {
                    if m.copy.is_none() {
                        m.copy = Some("{}".into());
                    }
                    any = true;
                }
                _ => m.copy = None,
            }
        }
        any
    }

    /// Changes an app's callback settings (URLs checked); answers the app as stored.
    pub async fn set_callbacks(&self, appkey: &str, up: CallbackUpdate) -> Result<App, ApiError> {
        let current = self
            .store
            .app_by_key(appkey)
            .await?
            .ok_or_else(|| ApiError::new(Code::NotFound, format!("app {appkey} not found")))?;
        let mut cb: AppCallbacks = current.callbacks;
        if let Some(u) = up.url {
            cb.url = callback::check_url(&u, "url")?;
        }
        if let Some(e) = up.events {
            cb.events = e;
        }
        if let Some(u) = up.pre_send_url {
            cb.pre_send_url = callback::check_url(&u, "preSendUrl")?;
        }
        let app = self.store.set_app_callbacks(appkey, cb).await?;
        self.apps.put(app.clone());
        self.bus.publish(qunfa_core::bus::Event::AppsChanged);
        Ok(app)
    }

    pub async fn callback_summary(&self, app: AppId) -> Result<Summary, ApiError> {
        Ok(self.store.callback_summary(app).await?)
    }

    /// Dead letters after the event id `after`, at most `limit` (≤ 1,000).
    pub async fn dead_callbacks(
        &self,
        app: AppId,
        after: i64,
        limit: usize,
    ) -> Result<Vec<CallbackEvent>, ApiError> {
        Ok(self
            .store
            .dead_callbacks(app, after, limit.clamp(1, MAX_DEAD_PAGE))
            .await?)
    }

    /// Sends dead letters again (those listed, or all): a fresh series of attempts from now.
    pub async fn resend_callbacks(&self, app: AppId, ids: Vec<i64>) -> Result<u64, ApiError> {
        let n = self.store.resend_callbacks(app, ids, self.now_ms()).await?;
        if n > 0 {
            self.hooks.queued(app);
        }
        Ok(n)
    }
}
