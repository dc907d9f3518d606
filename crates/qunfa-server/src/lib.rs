//! The qunfa server: the NIM-compatible HTTP API over a `Store`, its configuration, startup and
//! shutdown, and the signing client the CLI and the tests use to talk to it.

pub mod antispam;
pub mod api;
pub mod apps;
pub mod audiences;
pub mod client;
pub mod config;
pub mod demo;
pub mod gateway;
pub mod hub;
pub mod index;
pub mod server;
pub mod state;
pub mod tracker;

pub use config::Config;
pub use server::{Server, run};
pub use state::AppState;
