//! The Admission port: the state request authentication shares across nodes. A request
//! replayed on another node must answer 431, and rate limits count every node's calls, so a
//! deployment of many nodes keeps these in a shared backend (PostgreSQL); one node keeps them
//! in memory ([`LocalAdmission`]).

use async_trait::async_trait;

use crate::auth::ReplayGuard;
use crate::ids::AppId;
use crate::ratelimit::{Limits, RateLimiter};
use crate::store::StoreResult;

#[async_trait]
pub trait Admission: Send + Sync + 'static {
    /// Records a request's (app, Nonce, CurTime); `false` when it was already recorded inside
    /// the CurTime window (a replay).
    async fn first_use(
        &self,
        app: AppId,
        nonce: &str,
        curtime: i64,
        now_ms: i64,
    ) -> StoreResult<bool>;
    /// Forgets a triple recorded by a request that was then refused (rate limited).
    async fn forget(&self, app: AppId, nonce: &str, curtime: i64) -> StoreResult<()>;
    /// Counts one call of `endpoint` (`user/create`); `Err(key)` names the limit when the app is
    /// over it or still in its penalty.
    async fn count(
        &self,
        app: AppId,
        endpoint: &str,
        now_ms: i64,
    ) -> StoreResult<Result<(), String>>;
}

/// One node's admission state, in memory.
pub struct LocalAdmission {
    replay: ReplayGuard,
    limiter: RateLimiter,
}

impl LocalAdmission {
    pub fn new(window_secs: i64, limits: Limits) -> Self {
        LocalAdmission {
            replay: ReplayGuard::new(window_secs),
            limiter: RateLimiter::new(limits),
        }
    }
}

#[async_trait]
impl Admission for LocalAdmission {
    async fn first_use(
        &self,
        app: AppId,
        nonce: &str,
        curtime: i64,
        now_ms: i64,
    ) -> StoreResult<bool> {
        Ok(self.replay.check_and_record(app.0, nonce, curtime, now_ms))
    }

    async fn forget(&self, app: AppId, nonce: &str, curtime: i64) -> StoreResult<()> {
        self.replay.forget(app.0, nonce, curtime);
        Ok(())
    }

    async fn count(
        &self,
        app: AppId,
        endpoint: &str,
        now_ms: i64,
    ) -> StoreResult<Result<(), String>> {
        Ok(self
            .limiter
            .check(app.0, endpoint, now_ms)
            .map_err(str::to_owned))
    }
}
