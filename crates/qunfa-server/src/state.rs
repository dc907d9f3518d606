//! What every request handler and gateway session shares.

use std::sync::Arc;

use qunfa_service::Services;

use crate::callbacks::Callbacks;
use crate::config::Config;
use crate::gateway::hub::Hub;

pub struct AppState {
    pub config: Config,
    pub services: Arc<Services>,
    pub hub: Arc<Hub>,
    /// The callback outbox's deliverer (and where gateway logins are queued for it).
    pub callbacks: Arc<Callbacks>,
}

impl AppState {
    pub fn now_ms(&self) -> i64 {
        self.services.now_ms()
    }
}
