//! The qunfa server: the NIM-compatible HTTP API and the WebSocket gateway over the service
//! layer, the bus adapters, this node's bus subscriber, configuration, startup and shutdown,
//! and the signing client the CLI and the tests use to talk to it.

pub mod api;
pub mod bus;
pub mod callbacks;
pub mod client;
pub mod config;
pub mod console;
pub mod demo;
pub mod gateway;
pub mod health;
pub mod http;
pub mod metrics;
pub mod node;
pub mod proxy;
pub mod server;
pub mod state;
pub mod tls;
pub mod views;

pub use config::Config;
pub use server::{Server, run, serve_metrics};
pub use state::AppState;

/// This build's version (the crates' version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git commit this build was made from (`unknown` outside a git checkout).
pub const COMMIT: &str = env!("QUNFA_GIT_COMMIT");
/// `0.1.0 (commit 0123abcd4567)`, for `qunfa --version`.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("QUNFA_GIT_COMMIT"),
    ")"
);
