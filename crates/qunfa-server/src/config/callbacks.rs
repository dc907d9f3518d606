//! `[callbacks]`: the settings of message copy (抄送) and the pre-send check (第三方回调).

use serde::{Deserialize, Serialize};

/// `[callbacks]`: copying events to apps' servers (抄送) and the pre-send check (第三方回调).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallbacksConfig {
    pub timeout_ms: u64,
    pub backoff_initial_ms: u64,
    pub backoff_max_ms: u64,
    pub max_attempts: u32,
    pub pre_send_timeout_ms: u64,
    pub pre_send_on_failure: PreSendPolicy,
    pub poll_ms: u64,
    pub lease_ms: u64,
    pub concurrency: usize,
}

/// What a client's send becomes when the pre-send check fails (timeout, non-200, bad answer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PreSendPolicy {
    Pass,
    Block,
}

impl Default for CallbacksConfig {
    fn default() -> Self {
        CallbacksConfig {
            timeout_ms: 5000,
            backoff_initial_ms: 1000,
            backoff_max_ms: 300_000,
            max_attempts: 10,
            pre_send_timeout_ms: 2000,
            pre_send_on_failure: PreSendPolicy::Pass,
            poll_ms: 1000,
            lease_ms: 30_000,
            concurrency: 64,
        }
    }
}
