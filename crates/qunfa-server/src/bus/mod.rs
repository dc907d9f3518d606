//! Bus adapters: in-process (one node, the default) and NATS (many nodes), chosen from
//! `bus.url` in one place.

pub mod local;
pub mod nats;

use std::sync::Arc;

use qunfa_core::bus::Bus;

use crate::config::BusConfig;

/// The bus `bus.url` names: empty for in-process, `nats://HOST:PORT` for NATS.
pub async fn open(cfg: &BusConfig) -> anyhow::Result<Arc<dyn Bus>> {
    let url = cfg.url.trim();
    if url.is_empty() || url == "local" {
        return Ok(Arc::new(local::LocalBus::new()));
    }
    if url.starts_with("nats://") || url.starts_with("tls://") {
        if cfg.prefix.is_empty()
            || cfg
                .prefix
                .contains(|c: char| c.is_whitespace() || c == '*' || c == '>')
        {
            anyhow::bail!(
                "bus.prefix {:?}: must be a non-empty NATS subject token",
                cfg.prefix
            );
        }
        return Ok(Arc::new(nats::NatsBus::connect(url, &cfg.prefix).await?));
    }
    anyhow::bail!("bus.url {url:?}: expected empty (in-process) or nats://HOST:PORT")
}
