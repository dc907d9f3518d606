//! A client's login to the gateway: which app, which account, checked against the store, with
//! the same closed table of codes as the HTTP API; and the throttle that makes guessing tokens
//! slow.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use qunfa_core::account::{Accid, hash_token};
use qunfa_core::auth::App;
use qunfa_core::ids::{AppId, MsgId, Ordinal};
use qunfa_core::{ApiError, Code};
use subtle::ConstantTimeEq;

use crate::Services;

/// What a client said of itself at login: copied to its login and logout events and to the
/// messages it sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientInfo {
    /// One of [`qunfa_core::callback::CLIENT_TYPES`] (`WEB` when not given).
    pub client_type: String,
    pub device_id: String,
    pub sdk_version: String,
}

impl Default for ClientInfo {
    fn default() -> Self {
        ClientInfo {
            client_type: "WEB".into(),
            device_id: String::new(),
            sdk_version: String::new(),
        }
    }
}

/// Who logged in.
#[derive(Clone, Debug)]
pub struct Session {
    pub app: Arc<App>,
    pub accid: Accid,
    pub ordinal: Ordinal,
    /// The msgid the client has everything up to.
    pub cursor: MsgId,
    /// The cursor given was above the store's latest msgid (a restored or recreated data
    /// directory): `cursor` is the store's latest instead, and the client must be told.
    pub reset: bool,
    /// The account's last kick when it logged in: later kicks end this session, that one not.
    pub kick_seq: i64,
    /// The client's type and device (set by the gateway from the login frame).
    pub client: ClientInfo,
}

/// How many failed logins close the door, and for how long.
#[derive(Clone, Copy, Debug)]
pub struct ThrottleRules {
    /// Wrong tokens for one account in a window.
    pub per_account: u32,
    /// Failed logins from one address in a window.
    pub per_address: u32,
    pub window_ms: i64,
}

#[derive(Clone, Copy, Debug)]
struct Window {
    start_ms: i64,
    failures: u32,
}

/// Failed logins, counted per account and per client address in fixed windows, on this node.
/// Past a limit, logins for that account or from that address are refused (416) until the
/// window ends, the right token included: guessing costs a window per few tries.
pub struct LoginThrottle {
    rules: ThrottleRules,
    accounts: Mutex<HashMap<(AppId, Accid), Window>>,
    addresses: Mutex<HashMap<IpAddr, Window>>,
}

/// Entries kept before stale ones are swept.
const SWEEP_AT: usize = 100_000;

fn refused<K: std::hash::Hash + Eq>(
    map: &Mutex<HashMap<K, Window>>,
    key: &K,
    max: u32,
    rules: &ThrottleRules,
    now_ms: i64,
) -> Option<i64> {
    let m = map.lock().unwrap_or_else(|e| e.into_inner());
    let w = m.get(key)?;
    let left = w.start_ms + rules.window_ms - now_ms;
    (w.failures >= max && left > 0).then_some(left)
}

fn count<K: std::hash::Hash + Eq>(
    map: &Mutex<HashMap<K, Window>>,
    key: K,
    rules: &ThrottleRules,
    now_ms: i64,
) {
    let mut m = map.lock().unwrap_or_else(|e| e.into_inner());
    if m.len() >= SWEEP_AT {
        m.retain(|_, w| now_ms - w.start_ms < rules.window_ms);
    }
    let w = m.entry(key).or_insert(Window {
        start_ms: now_ms,
        failures: 0,
    });
    if now_ms - w.start_ms >= rules.window_ms {
        *w = Window {
            start_ms: now_ms,
            failures: 0,
        };
    }
    w.failures += 1;
}

impl LoginThrottle {
    pub fn new(rules: ThrottleRules) -> Self {
        LoginThrottle {
            rules,
            accounts: Mutex::default(),
            addresses: Mutex::default(),
        }
    }

    /// Milliseconds until this account or address may try again, if it may not now.
    fn wait(
        &self,
        app: AppId,
        accid: Option<&Accid>,
        peer: Option<IpAddr>,
        now_ms: i64,
    ) -> Option<i64> {
        let r = &self.rules;
        let by_address = peer.and_then(|p| refused(&self.addresses, &p, r.per_address, r, now_ms));
        let by_account = accid
            .and_then(|a| refused(&self.accounts, &(app, a.clone()), r.per_account, r, now_ms));
        by_address.max(by_account)
    }

    fn failed(&self, app: AppId, accid: Option<&Accid>, peer: Option<IpAddr>, now_ms: i64) {
        if let Some(p) = peer {
            count(&self.addresses, p, &self.rules, now_ms);
        }
        if let Some(a) = accid {
            count(&self.accounts, (app, a.clone()), &self.rules, now_ms);
        }
    }
}

impl Services {
    /// Checks a login: 414 `appkey` for an unknown app, 403 for a disabled one, 302 for a wrong
    /// accid or token (the same answer for both, so accids cannot be probed), 422 for a
    /// blocked account, 416 while the account or the client's address has failed too often.
    pub async fn login(
        &self,
        appkey: &str,
        accid: &str,
        token: &str,
        cursor: i64,
        peer: Option<IpAddr>,
    ) -> Result<Session, ApiError> {
        let app = self
            .apps
            .get(appkey)
            .await?
            .ok_or_else(|| ApiError::param("appkey"))?;
        if app.disabled {
            return Err(ApiError::new(Code::Forbidden, "app is forbidden"));
        }
        let now = self.now_ms();
        let parsed = Accid::parse(accid, "accid").ok();
        if let Some(ms) = self.throttle.wait(app.id, parsed.as_ref(), peer, now) {
            return Err(ApiError::new(
                Code::RateLimited,
                format!("too many failed logins: retry in {} s", (ms + 999) / 1000),
            ));
        }
        let wrong = || {
            self.throttle.failed(app.id, parsed.as_ref(), peer, now);
            ApiError::new(Code::BadLogin, "wrong accid or token")
        };
        let Some(accid) = parsed.clone() else {
            return Err(wrong());
        };
        let Some(creds) = self.store.credentials(app.id, &accid).await? else {
            return Err(wrong());
        };
        if !bool::from(creds.token_hash.ct_eq(&hash_token(&accid, token))) {
            return Err(wrong());
        }
        if creds.blocked {
            return Err(ApiError::new(Code::AccountDisabled, "account is blocked"));
        }
        let mut cursor = MsgId(cursor.max(0));
        let mut reset = false;
        if cursor.0 > 0 {
            let latest = self.store.head(app.id).await?.last_msgid;
            if cursor > latest {
                cursor = latest;
                reset = true;
            }
        }
        Ok(Session {
            app,
            accid,
            ordinal: creds.ordinal,
            cursor,
            reset,
            kick_seq: creds.kick_seq,
            client: ClientInfo::default(),
        })
    }
}
