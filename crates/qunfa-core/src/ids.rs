//! Id newtypes, so an app id, a message id and an account ordinal cannot be swapped for one
//! another (or for a count) at a call site.

use serde::{Deserialize, Serialize};

/// An app (tenant), as the store numbers it. Internal: the wire names apps by AppKey.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AppId(pub i64);

/// A stored message: positive, below 2^53 (exact in JavaScript), increasing per app in the
/// order readers can see messages, so a client cursor never skips one that commits late.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct MsgId(pub i64);

/// An account's dense per-app number: its bit in audience bitmaps. Assigned at creation,
/// never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Ordinal(pub u32);

/// The largest msgid qunfa hands out (2^53 - 1).
pub const MAX_MSGID: i64 = (1 << 53) - 1;

macro_rules! display {
    ($($t:ty),*) => {$(
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}
display!(AppId, MsgId, Ordinal);

impl MsgId {
    pub fn get(self) -> i64 {
        self.0
    }
}

impl Ordinal {
    pub fn get(self) -> u32 {
        self.0
    }
}
