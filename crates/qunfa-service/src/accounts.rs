//! Accounts (`user/*`): every write goes to the store, then this node's audience index catches
//! up, then the other nodes are told, before the answer.

use qunfa_core::ApiError;
use qunfa_core::account::{
    Accid, Account, AccountPatch, NewAccount, Profile, hash_token, token_or_generate,
};
use qunfa_core::ids::{AppId, Ordinal};
use qunfa_core::store::StoreResult;

use crate::Services;

impl Services {
    /// `user/create`.
    pub async fn create_account(
        &self,
        app: AppId,
        account: NewAccount,
    ) -> Result<Ordinal, ApiError> {
        match self.create_accounts(app, vec![account]).await?.pop() {
            Some(r) => Ok(r?),
            None => Err(ApiError::internal(
                "store answered no result for one account",
            )),
        }
    }

    /// `user/batchCreate`: in one durable write, each account with its own result.
    pub async fn create_accounts(
        &self,
        app: AppId,
        accounts: Vec<NewAccount>,
    ) -> Result<Vec<StoreResult<Ordinal>>, ApiError> {
        if accounts.is_empty() {
            return Ok(Vec::new());
        }
        let results = self.store.create_accounts(app, accounts).await?;
        self.changed(app).await?;
        Ok(results)
    }

    async fn patch(&self, app: AppId, accid: &Accid, patch: AccountPatch) -> Result<(), ApiError> {
        self.store.update_account(app, accid, patch).await?;
        self.changed(app).await?;
        Ok(())
    }

    /// `user/update`: the token (hashed by the caller), `props`, `areaid`, `enterptypeid`.
    pub async fn update_account(
        &self,
        app: AppId,
        accid: &Accid,
        token_hash: Option<[u8; 32]>,
        profile: Profile,
    ) -> Result<(), ApiError> {
        let patch = AccountPatch {
            token_hash,
            profile,
            ..Default::default()
        };
        self.patch(app, accid, patch).await
    }

    /// `user/updateUinfo`: profile fields.
    pub async fn update_uinfo(
        &self,
        app: AppId,
        accid: &Accid,
        profile: Profile,
    ) -> Result<(), ApiError> {
        let patch = AccountPatch {
            profile,
            ..Default::default()
        };
        self.patch(app, accid, patch).await
    }

    /// `user/refreshToken`: a new random token; the account's sessions end (4003) on every node.
    pub async fn refresh_token(&self, app: AppId, accid: &Accid) -> Result<String, ApiError> {
        let token = token_or_generate(None)?;
        let patch = AccountPatch {
            token_hash: Some(hash_token(accid, &token)),
            kick: Some("token refreshed".into()),
            ..Default::default()
        };
        self.patch(app, accid, patch).await?;
        Ok(token)
    }

    /// `user/block`: logins and targeted sends leave it out; with `needkick` its sessions end.
    pub async fn block(&self, app: AppId, accid: &Accid, needkick: bool) -> Result<(), ApiError> {
        let patch = AccountPatch {
            blocked: Some(true),
            kick: needkick.then(|| "blocked".to_owned()),
            ..Default::default()
        };
        self.patch(app, accid, patch).await
    }

    /// `user/unblock`.
    pub async fn unblock(&self, app: AppId, accid: &Accid) -> Result<(), ApiError> {
        let patch = AccountPatch {
            blocked: Some(false),
            ..Default::default()
        };
        self.patch(app, accid, patch).await
    }

    /// `user/getUinfos`: the accounts that exist among `accids`, in the order asked.
    pub async fn accounts(&self, app: AppId, accids: &[Accid]) -> Result<Vec<Account>, ApiError> {
        Ok(self.store.get_accounts(app, accids).await?)
    }
}
