//! What every request handler shares.

use std::sync::Arc;

use qunfa_core::Store;
use qunfa_core::auth::ReplayGuard;
use qunfa_core::clock::SharedClock;
use qunfa_core::ratelimit::RateLimiter;

use crate::apps::AppRegistry;
use crate::config::Config;

pub struct AppState {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub apps: Arc<AppRegistry>,
    pub replay: ReplayGuard,
    pub limiter: RateLimiter,
    pub clock: SharedClock,
}

impl AppState {
    pub fn new(config: Config, store: Arc<dyn Store>, clock: SharedClock) -> AppState {
        let rl = &config.rate_limits;
        AppState {
            apps: Arc::new(AppRegistry::new(store.clone())),
            replay: ReplayGuard::new(config.api.curtime_window_secs),
            limiter: RateLimiter::new(rl.default, rl.batch, rl.broadcast),
            store,
            clock,
            config,
        }
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}
