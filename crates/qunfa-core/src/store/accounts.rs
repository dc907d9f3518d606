use async_trait::async_trait;

use super::StoreResult;
use crate::account::{Accid, Account, AccountPatch, NewAccount};
use crate::ids::{AppId, Ordinal};

/// An account's fields the audience index needs (the index is rebuilt from these at start and
/// follows later changes through them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    pub ordinal: Ordinal,
    pub accid: Accid,
    pub areaid: Option<String>,
    pub enterptypeid: Option<String>,
    pub blocked: bool,
    /// The app's `change_seq` of this account's last write.
    pub seq: i64,
    /// The `change_seq` at which its sessions were last kicked, and why.
    pub kicked: Option<(i64, String)>,
}

/// What a login is checked against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub ordinal: Ordinal,
    pub token_hash: [u8; 32],
    pub blocked: bool,
    /// The `change_seq` of the account's last kick (0: never): a session that logged in after
    /// it is not ended by it.
    pub kick_seq: i64,
}

#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// Creates accounts in one transaction; each gets its own result, in order. An account
    /// fails alone (duplicate accid, unknown areaid) without failing the others. `Ok` carries
    /// the new ordinal.
    async fn create_accounts(
        &self,
        app: AppId,
        accounts: Vec<NewAccount>,
    ) -> StoreResult<Vec<StoreResult<Ordinal>>>;
    /// `NotRegistered` for an unknown accid.
    async fn update_account(
        &self,
        app: AppId,
        accid: &Accid,
        patch: AccountPatch,
    ) -> StoreResult<()>;
    /// The accounts that exist among `accids`, in the order asked.
    async fn get_accounts(&self, app: AppId, accids: &[Accid]) -> StoreResult<Vec<Account>>;
    /// What a login is checked against.
    async fn credentials(&self, app: AppId, accid: &Accid) -> StoreResult<Option<Credentials>>;
    /// Every account of the app in ordinal order, for the audience index.
    async fn index_entries(&self, app: AppId) -> StoreResult<Vec<IndexEntry>>;
    /// The accounts written after `change_seq` `since`, in `seq` order.
    async fn account_changes(&self, app: AppId, since: i64) -> StoreResult<Vec<IndexEntry>>;
    /// The accids of these ordinals, in ordinal order (unknown ordinals are left out).
    async fn accids_of(
        &self,
        app: AppId,
        ordinals: Vec<Ordinal>,
    ) -> StoreResult<Vec<(Ordinal, Accid)>>;
    /// Accounts whose accid starts with `prefix` (every account when empty) and comes after
    /// `after`, in accid order (byte order: accids are ASCII), at most `limit`.
    async fn search_accounts(
        &self,
        app: AppId,
        prefix: &str,
        after: Option<&Accid>,
        limit: usize,
    ) -> StoreResult<Vec<Account>>;
}
