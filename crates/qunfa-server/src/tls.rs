//! TLS for qunfa's outgoing HTTP (callbacks to `https://` app servers, the CLI against an
//! `https://` node): rustls with the *ring* provider (already built for NATS), the system's
//! trusted roots through the platform verifier. [`install`] runs once per process before the
//! first client is built; reqwest finds the provider there.

use std::sync::Once;

static INSTALL: Once = Once::new();

/// Makes *ring* the process's rustls provider (a no-op when one is installed already).
pub fn install() {
    INSTALL.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
