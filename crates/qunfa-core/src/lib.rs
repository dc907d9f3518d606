//! qunfa's domain. It knows nothing of HTTP, SQL or sockets: the public answer codes, the
//! rules every request must follow (auth, replay, rate limits, field limits), the account and
//! dictionary model, and the `Store` trait the storage backends implement.

pub mod account;
pub mod audience;
pub mod auth;
pub mod clock;
pub mod code;
pub mod dict;
pub mod message;
pub mod ratelimit;
pub mod store;

pub use code::{ApiError, Code};
pub use store::{Store, StoreError};

/// Random bytes as lowercase hex, for app keys, secrets and generated tokens.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // The OS random source failing is not something a request can cause or recover from.
    getrandom::fill(&mut buf).expect("OS random source unavailable");
    hex::encode(buf)
}
