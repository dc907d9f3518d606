//! qunfa's use cases, one function per operation, written once for every transport and every
//! backend: the HTTP API and the WebSocket gateway parse a typed request, make one call here,
//! and render what it answers. The rules live here (who may send, who a send reaches, the
//! idempotency window, the system account, the recall window) and the order of every write:
//! **write to the store, then bring this node's caches up to date, then publish on the bus**.
//!
//! A node keeps caches of the store (apps, audience indexes, keyword matchers, decoded
//! audiences, teams); they follow this node's writes at once and other nodes' writes through bus
//! events and polls (`follow`).

pub mod accounts;
pub mod apps;
pub mod audiences;
pub mod auth;
pub mod callbacks;
pub mod client;
pub mod content;
pub mod dict;
pub mod follow;
pub mod history;
pub mod index;
pub mod login;
pub mod lookup;
pub mod recall;
pub mod receipts;
pub mod send;
pub mod stats;
pub mod teams;
pub mod tracker;
pub mod words;

use std::sync::Arc;

use qunfa_core::Store;
use qunfa_core::account::Accid;
use qunfa_core::admission::Admission;
use qunfa_core::bus::Bus;
use qunfa_core::clock::SharedClock;
use qunfa_core::ids::{AppId, Ordinal};

use crate::apps::AppRegistry;
use crate::audiences::AudienceCache;
use crate::client::SendLimiter;
use crate::index::Indexes;
use crate::teams::{TeamCache, TeamRules};
use crate::tracker::Tracker;
use crate::words::KeywordFilter;

/// The rules that are settings.
#[derive(Clone, Debug)]
pub struct Rules {
    /// Longest message `body`, in characters.
    pub max_body_chars: usize,
    /// How long after sending a message can be recalled.
    pub recall_window_secs: i64,
    /// The sender of targeted sends without `from`; never a recipient.
    pub system_accid: Accid,
    /// How long a targeted send's `msgidclient` is remembered.
    pub dedupe_window_secs: i64,
    /// How far CurTime may be from the server clock.
    pub curtime_window_secs: i64,
    /// What a repeated (AppKey, Nonce, CurTime) gets: 431, a warning, or nothing.
    pub replay_check: qunfa_core::replay::ReplayCheck,
    /// Apply the per-app rate limits.
    pub rate_limits: bool,
    /// Failed logins allowed before the door closes for a while.
    pub login_throttle: login::ThrottleRules,
}

/// The sessions this node holds: the gateway's hub implements it, so account writes can end
/// the sessions of a blocked account or a changed token.
pub trait LocalSessions: Send + Sync + 'static {
    /// Ends the sessions of `ordinal` that logged in before the kick at `seq`.
    fn kick(&self, app: AppId, ordinal: Ordinal, seq: i64, reason: &str);
    /// How many sessions of `app` this node holds now (other nodes hold their own).
    fn online(&self, app: AppId) -> lookup::Online;
}

pub struct Services {
    pub store: Arc<dyn Store>,
    pub bus: Arc<dyn Bus>,
    pub admission: Arc<dyn Admission>,
    pub clock: SharedClock,
    pub rules: Rules,
    pub apps: AppRegistry,
    pub indexes: Indexes,
    pub words: KeywordFilter,
    pub audiences: AudienceCache,
    pub tracker: Arc<Tracker>,
    pub throttle: login::LoginThrottle,
    /// This node's teams, following the store.
    pub teams: TeamCache,
    pub team_rules: TeamRules,
    /// Clients' sends over the gateway, per account.
    pub send_limit: SendLimiter,
    /// The callback machinery: the outbox's deliverer and the pre-send check.
    pub hooks: Arc<dyn qunfa_core::callback::Hooks>,
    sessions: Arc<dyn LocalSessions>,
}

impl Services {
    pub fn new(
        store: Arc<dyn Store>,
        bus: Arc<dyn Bus>,
        admission: Arc<dyn Admission>,
        clock: SharedClock,
        rules: Rules,
        global_words: Vec<String>,
        sessions: Arc<dyn LocalSessions>,
    ) -> Services {
        Services {
            apps: AppRegistry::new(store.clone()),
            indexes: Indexes::new(store.clone(), rules.system_accid.clone()),
            words: KeywordFilter::new(store.clone(), global_words),
            audiences: AudienceCache::default(),
            tracker: Arc::new(Tracker::new(store.clone())),
            throttle: login::LoginThrottle::new(rules.login_throttle),
            teams: TeamCache::new(store.clone()),
            team_rules: TeamRules::default(),
            send_limit: SendLimiter::new(10, 20),
            hooks: Arc::new(qunfa_core::callback::NoHooks),
            store,
            bus,
            admission,
            clock,
            rules,
            sessions,
        }
    }

    /// The team limits (`[teams]` of the config).
    pub fn with_team_rules(mut self, rules: TeamRules) -> Services {
        self.team_rules = rules;
        self
    }

    /// The per-account rate of clients' sends over the gateway.
    pub fn with_client_send_rate(mut self, per_sec: u32, burst: u32) -> Services {
        self.send_limit = SendLimiter::new(per_sec, burst);
        self
    }

    /// The callback machinery (the default asks nothing and delivers nothing).
    pub fn with_hooks(mut self, hooks: Arc<dyn qunfa_core::callback::Hooks>) -> Services {
        self.hooks = hooks;
        self
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Whether other nodes write the store too, so reads of this node's caches must first
    /// check the store for what they missed.
    pub fn shared(&self) -> bool {
        self.store.is_shared()
    }
}
