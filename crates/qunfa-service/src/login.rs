//! A client's login to the gateway: which app, which account, checked against the store, with
//! the same closed table of codes as the HTTP API.

use std::sync::Arc;

use qunfa_core::account::{Accid, hash_token};
use qunfa_core::auth::App;
use qunfa_core::ids::{MsgId, Ordinal};
use qunfa_core::{ApiError, Code};
use subtle::ConstantTimeEq;

use crate::Services;

/// Who logged in.
#[derive(Clone, Debug)]
pub struct Session {
    pub app: Arc<App>,
    pub accid: Accid,
    pub ordinal: Ordinal,
    /// The msgid the client has everything up to.
    pub cursor: MsgId,
    /// The account's last kick when it logged in: later kicks end this session, that one not.
    pub kick_seq: i64,
}

impl Services {
    /// Checks a login: 414 `appkey` for an unknown app, 403 for a disabled one, 302 for a wrong
    /// accid or token (the same answer for both, so accids cannot be probed), 422 for a
    /// blocked account.
    pub async fn login(
        &self,
        appkey: &str,
        accid: &str,
        token: &str,
        cursor: i64,
    ) -> Result<Session, ApiError> {
        let app = self
            .apps
            .get(appkey)
            .await?
            .ok_or_else(|| ApiError::param("appkey"))?;
        if app.disabled {
            return Err(ApiError::new(Code::Forbidden, "app is forbidden"));
        }
        let wrong = || ApiError::new(Code::BadLogin, "wrong accid or token");
        let accid = Accid::parse(accid, "accid").map_err(|_| wrong())?;
        let creds = self
            .store
            .credentials(app.id, &accid)
            .await?
            .ok_or_else(wrong)?;
        if !bool::from(creds.token_hash.ct_eq(&hash_token(&accid, token))) {
            return Err(wrong());
        }
        if creds.blocked {
            return Err(ApiError::new(Code::AccountDisabled, "account is blocked"));
        }
        Ok(Session {
            app,
            accid,
            ordinal: creds.ordinal,
            cursor: MsgId(cursor.max(0)),
            kick_seq: creds.kick_seq,
        })
    }
}
