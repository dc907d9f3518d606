//! qunfa's domain. It knows nothing of HTTP, SQL or sockets: ids, the public answer codes, the
//! rules every request must follow (auth, replay, rate limits, field limits), the account,
//! dictionary, message and team model, the audience index, what an account has received, and the
//! ports the adapters implement: `Store` (split by concern), `Bus`, `Admission`.

pub mod account;
pub mod admission;
pub mod audience;
pub mod auth;
pub mod bus;
pub mod callback;
pub mod clock;
pub mod code;
pub mod dict;
pub mod ids;
pub mod inbox;
pub mod message;
pub mod ratelimit;
pub mod replay;
pub mod store;
pub mod team;

pub use code::{ApiError, Code};
pub use ids::{AppId, MsgId, Ordinal};
pub use store::{Store, StoreError, StoreResult};

/// Random bytes as lowercase hex, for app keys, secrets and generated tokens.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // The OS random source failing is not something a request can cause or recover from.
    getrandom::fill(&mut buf).expect("OS random source unavailable");
    hex::encode(buf)
}
