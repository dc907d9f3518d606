//! Bus adapters: in-process (one node, the default) and NATS (many nodes). Chosen from
//! `bus.url` in one place.

pub mod local;

use std::sync::Arc;

use qunfa_core::bus::Bus;

/// The bus `bus.url` names: empty for in-process.
pub async fn open(cfg: &crate::config::BusConfig) -> anyhow::Result<Arc<dyn Bus>> {
    match cfg.url.trim() {
        "" | "local" => Ok(Arc::new(local::LocalBus::new())),
        other => {
            anyhow::bail!("bus.url {other:?}: expected empty (in-process) or nats://HOST:PORT")
        }
    }
}
