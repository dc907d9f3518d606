//! The storage port, split by concern. Backends (SQLite, PostgreSQL) implement every part and
//! pass one shared conformance suite (`qunfa-store`, feature `testsuite`).
//!
//! Rules that need a consistent read (does this area exist, is it still used, would this
//! parent make a cycle) are checked inside the backend's write transaction and reported as
//! [`StoreError`]s; where the rule itself is domain logic (the cycle walk, what an account has
//! received) it is written once in core and the backend only feeds it rows.

mod accounts;
mod apps;
mod callbacks;
mod delivery;
mod dict;
mod messages;
mod teams;
mod words;

pub use accounts::{AccountStore, Credentials, IndexEntry};
pub use apps::{AppHead, AppStore};
pub use callbacks::CallbackStore;
pub use delivery::DeliveryStore;
pub use dict::DictStore;
pub use messages::{MessageStore, SessionQuery};
pub use teams::{Membership, TeamChange, TeamCommit, TeamGuard, TeamMsgQuery, TeamStore};
pub use words::WordStore;

use crate::{ApiError, Code};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("already register")]
    AlreadyRegistered,
    #[error("{0} not register")]
    NotRegistered(String),
    #[error("unknown areaid: {0}")]
    UnknownArea(String),
    #[error("unknown enterptypeid: {0}")]
    UnknownEnterptype(String),
    #[error("unknown parentid: {0}")]
    UnknownParent(String),
    #[error("{0} already exists")]
    AlreadyExists(String),
    #[error("{0} not found")]
    NotFound(String),
    /// Deleting something still referenced; the text names what uses it.
    #[error("{0}")]
    InUse(String),
    #[error("parentid {0} would make a cycle")]
    Cycle(String),
    /// A guarded write found the team changed since it was decided (or a limit reached
    /// meanwhile): nothing was written; the caller decides again from fresh reads.
    #[error("stale: {0}")]
    Stale(String),
    /// The backend failed (connection lost, disk full): logged with this detail, answered 500.
    #[error("storage failure: {0}")]
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        let code = match &e {
            StoreError::AlreadyRegistered
            | StoreError::NotRegistered(_)
            | StoreError::UnknownArea(_)
            | StoreError::UnknownEnterptype(_)
            | StoreError::UnknownParent(_)
            | StoreError::AlreadyExists(_)
            | StoreError::Cycle(_) => Code::BadParam,
            StoreError::NotFound(_) => Code::NotFound,
            StoreError::InUse(_) => Code::Conflict,
            StoreError::Internal(detail) | StoreError::Stale(detail) => {
                return ApiError::internal(detail.clone());
            }
        };
        ApiError::new(code, e.to_string())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// `StoreError::Internal` from anything printable (a driver error).
pub fn internal(e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(e.to_string())
}

/// Every part of the port: what a backend is. Used as `Arc<dyn Store>`.
pub trait Store:
    AppStore
    + AccountStore
    + DictStore
    + MessageStore
    + DeliveryStore
    + WordStore
    + TeamStore
    + CallbackStore
{
    /// Whether other qunfa processes write this store too (PostgreSQL): then this node's
    /// in-memory caches must follow the store, not only its own writes.
    fn is_shared(&self) -> bool;
}
