//! What every request handler and gateway session shares.

use std::sync::Arc;

use qunfa_service::Services;

use crate::config::Config;
use crate::gateway::hub::Hub;

pub struct AppState {
    pub config: Config,
    pub services: Arc<Services>,
    pub hub: Arc<Hub>,
}

impl AppState {
    pub fn now_ms(&self) -> i64 {
        self.services.now_ms()
    }
}
