//! Request authentication: the signature, the CurTime window, a disabled app, replays and rate
//! limits, in that order (NIM's). A replay is refused, logged or ignored as `api.replay_check`
//! says. Replays and rate limits are counted through the Admission
//! port, so on a shared store they hold across nodes.

use std::sync::Arc;

use qunfa_core::auth::{self, App, Signature};
use qunfa_core::replay::ReplayCheck;
use qunfa_core::{ApiError, Code};

use crate::Services;

impl Services {
    /// The app a signed call of `endpoint` (`user/create`) acts for, or the refusal.
    pub async fn admit(
        &self,
        appkey: &str,
        sig: Signature<'_>,
        endpoint: &str,
    ) -> Result<Arc<App>, ApiError> {
        if appkey.is_empty() {
            return Err(ApiError::param("missing header: AppKey"));
        }
        let app = self
            .apps
            .get(appkey)
            .await?
            .ok_or_else(|| ApiError::param("appkey"))?;
        let now = self.now_ms();
        let curtime = auth::verify(&app, sig, now, self.rules.curtime_window_secs)?;
        let mode = self.rules.replay_check;
        if mode.records()
            && !self
                .admission
                .first_use(app.id, sig.nonce, curtime, now)
                .await?
        {
            if mode == ReplayCheck::Strict {
                return Err(ApiError::new(Code::Repeated, "repeated request"));
            }
            tracing::warn!(
                appkey = %app.appkey,
                endpoint,
                nonce = %sig.nonce,
                curtime,
                "repeated request accepted (api.replay_check = \"log\"): the client reuses a Nonce"
            );
        }
        if self.rules.rate_limits
            && let Err(key) = self.admission.count(app.id, endpoint, now).await?
        {
            if mode.records() {
                self.admission.forget(app.id, sig.nonce, curtime).await?;
            }
            return Err(ApiError::new(
                Code::RateLimited,
                format!("too many requests: {key}"),
            ));
        }
        Ok(app)
    }
}
