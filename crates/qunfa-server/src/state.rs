//! What every request handler shares.

use std::sync::Arc;

use qunfa_core::Store;
use qunfa_core::auth::ReplayGuard;
use qunfa_core::clock::SharedClock;
use qunfa_core::ratelimit::RateLimiter;

use crate::antispam::KeywordFilter;
use crate::apps::AppRegistry;
use crate::config::Config;
use crate::index::Indexes;

pub struct AppState {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub apps: Arc<AppRegistry>,
    pub replay: ReplayGuard,
    pub limiter: RateLimiter,
    pub clock: SharedClock,
    pub indexes: Indexes,
    pub antispam: KeywordFilter,
}

impl AppState {
    pub fn new(
        config: Config,
        store: Arc<dyn Store>,
        clock: SharedClock,
        global_words: Vec<String>,
    ) -> AppState {
        let rl = &config.rate_limits;
        AppState {
            indexes: Indexes::new(store.clone(), &config.messages.system_accid),
            antispam: KeywordFilter::new(store.clone(), global_words),
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
