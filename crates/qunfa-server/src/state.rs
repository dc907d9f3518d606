//! What every request handler shares.

use std::sync::Arc;

use qunfa_core::Store;
use qunfa_core::auth::ReplayGuard;
use qunfa_core::clock::SharedClock;
use qunfa_core::ratelimit::RateLimiter;

use crate::antispam::KeywordFilter;
use crate::apps::AppRegistry;
use crate::audiences::AudienceCache;
use crate::config::Config;
use crate::hub::Hub;
use crate::index::Indexes;
use crate::tracker::Tracker;

pub struct AppState {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub apps: Arc<AppRegistry>,
    pub replay: ReplayGuard,
    pub limiter: RateLimiter,
    pub clock: SharedClock,
    pub indexes: Indexes,
    pub antispam: KeywordFilter,
    pub hub: Arc<Hub>,
    pub tracker: Arc<Tracker>,
    pub audiences: AudienceCache,
}

impl AppState {
    /// The state, and the receiver of the hub's fan-out queue (drained by `server::run`).
    pub fn new(
        config: Config,
        store: Arc<dyn Store>,
        clock: SharedClock,
        global_words: Vec<String>,
    ) -> (
        AppState,
        tokio::sync::mpsc::UnboundedReceiver<crate::hub::Published>,
    ) {
        let rl = &config.rate_limits;
        let (hub, fanout) = Hub::new(config.gateway.queue_frames);
        let state = AppState {
            indexes: Indexes::new(store.clone(), &config.messages.system_accid),
            antispam: KeywordFilter::new(store.clone(), global_words),
            apps: Arc::new(AppRegistry::new(store.clone())),
            replay: ReplayGuard::new(config.api.curtime_window_secs),
            limiter: RateLimiter::new(rl.default, rl.batch, rl.broadcast),
            hub,
            tracker: Arc::new(Tracker::new(store.clone())),
            audiences: AudienceCache::default(),
            store,
            clock,
            config,
        };
        (state, fanout)
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}
