//! Storage backends for qunfa. Each implements `qunfa_core::Store` and passes the shared
//! [`conformance`] suite. SQLite is the embedded default.

pub mod conformance;
pub mod sqlite;

pub use sqlite::{SqliteOptions, SqliteStore};
