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
pub mod http;
pub mod node;
pub mod server;
pub mod state;
pub mod views;

pub use config::Config;
pub use server::{Server, run};
pub use state::AppState;
