//! Request authentication as NIM defines it: `CheckSum = sha1(AppSecret + Nonce + CurTime)` in
//! lowercase hex, a ±300 s CurTime window, and qunfa's replay rule (a repeated
//! (AppKey, Nonce, CurTime) inside the window answers 431).

use std::collections::{BTreeMap, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;

use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

use crate::{ApiError, Code};

/// Longest Nonce NIM accepts.
pub const MAX_NONCE_LEN: usize = 128;

/// An app as the auth layer sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct App {
    pub id: crate::ids::AppId,
    pub appkey: String,
    pub secret: String,
    pub name: String,
    pub disabled: bool,
    pub created_ms: i64,
    /// Where its events are copied (抄送) and its clients' sends checked (第三方回调).
    pub callbacks: crate::callback::AppCallbacks,
}

/// `sha1(secret + nonce + curtime)` as 40 lowercase hex digits.
pub fn checksum(secret: &str, nonce: &str, curtime: &str) -> String {
    let mut h = Sha1::new();
    h.update(secret.as_bytes());
    h.update(nonce.as_bytes());
    h.update(curtime.as_bytes());
    hex::encode(h.finalize())
}

/// The signature headers of one request, as received.
#[derive(Debug, Clone, Copy)]
pub struct Signature<'a> {
    pub nonce: &'a str,
    pub curtime: &'a str,
    pub checksum: &'a str,
}

/// Checks a signature against an app's secret and the clock. Does not look at the replay window.
///
/// Order of checks (each answers 414): Nonce present and ≤ 128 chars, CurTime a number of
/// seconds, CheckSum right, CurTime within `window_secs` of now. The checksum is compared
/// before the time so a stale but forged request learns nothing about the clock.
pub fn verify(
    app: &App,
    sig: Signature<'_>,
    now_ms: i64,
    window_secs: i64,
) -> Result<i64, ApiError> {
    if sig.nonce.is_empty() {
        return Err(ApiError::param("missing header: Nonce"));
    }
    if sig.nonce.chars().count() > MAX_NONCE_LEN {
        return Err(ApiError::param(format!(
            "Nonce is longer than {MAX_NONCE_LEN} characters"
        )));
    }
    if sig.curtime.is_empty() {
        return Err(ApiError::param("missing header: CurTime"));
    }
    let curtime: i64 = sig
        .curtime
        .parse()
        .map_err(|_| ApiError::param("bad header: CurTime must be Unix time in seconds"))?;
    if sig.checksum.is_empty() {
        return Err(ApiError::param("missing header: CheckSum"));
    }
    let expected = checksum(&app.secret, sig.nonce, sig.curtime);
    let given = sig.checksum.to_ascii_lowercase();
    if !bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
        return Err(ApiError::param("checksum"));
    }
    let now_s = now_ms.div_euclid(1000);
    if (now_s - curtime).abs() > window_secs {
        return Err(ApiError::param("CurTime is expired"));
    }
    if app.disabled {
        return Err(ApiError::new(Code::Forbidden, "app is forbidden"));
    }
    Ok(curtime)
}

/// Remembers accepted (app, Nonce, CurTime) triples while their CurTime is inside the window.
///
/// Keys are kept as 128-bit hashes bucketed by CurTime, so an entry costs ~16 bytes and a
/// whole second expires at once.
pub struct ReplayGuard {
    window_secs: i64,
    hasher: std::collections::hash_map::RandomState,
    hasher2: std::collections::hash_map::RandomState,
    seen: Mutex<BTreeMap<i64, HashSet<u128>>>,
}

impl ReplayGuard {
    pub fn new(window_secs: i64) -> Self {
        ReplayGuard {
            window_secs,
            hasher: Default::default(),
            hasher2: Default::default(),
            seen: Mutex::new(BTreeMap::new()),
        }
    }

    fn key(&self, app_id: i64, nonce: &str) -> u128 {
        let mut a = self.hasher.build_hasher();
        let mut b = self.hasher2.build_hasher();
        for h in [&mut a, &mut b] {
            h.write_i64(app_id);
            h.write(nonce.as_bytes());
        }
        ((a.finish() as u128) << 64) | b.finish() as u128
    }

    /// Records the triple; `false` when it was already there (a replay).
    pub fn check_and_record(&self, app_id: i64, nonce: &str, curtime: i64, now_ms: i64) -> bool {
        let key = self.key(app_id, nonce);
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        // Anything whose CurTime fell out of the window can never be accepted again anyway.
        let oldest = now_ms.div_euclid(1000) - self.window_secs;
        while let Some((&t, _)) = seen.first_key_value() {
            if t >= oldest {
                break;
            }
            seen.pop_first();
        }
        seen.entry(curtime).or_default().insert(key)
    }

    /// Forgets a triple recorded by a request that was then refused (e.g. rate limited).
    pub fn forget(&self, app_id: i64, nonce: &str, curtime: i64) {
        let key = self.key(app_id, nonce);
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(set) = seen.get_mut(&curtime) {
            set.remove(&key);
        }
    }

    pub fn len(&self) -> usize {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(HashSet::len)
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_matches_reference_vector() {
        assert_eq!(
            checksum("1234567890ab", "4tgggergigwow323t23t", "1443592222"),
            "f2c2b4c8fe9020844c6b00cbd084718d8bf25890"
        );
    }

    fn app() -> App {
        App {
            id: crate::ids::AppId(1),
            appkey: "k".into(),
            secret: "s".into(),
            name: "a".into(),
            disabled: false,
            created_ms: 0,
            callbacks: Default::default(),
        }
    }

    #[test]
    fn window_is_inclusive_at_300_seconds() {
        let ct = "1000";
        let sum = checksum("s", "n", ct);
        let sig = Signature {
            nonce: "n",
            curtime: ct,
            checksum: &sum,
        };
        assert!(verify(&app(), sig, 1_300_999, 300).is_ok());
        assert!(verify(&app(), sig, 700_000, 300).is_ok());
        assert_eq!(
            verify(&app(), sig, 1_301_000, 300).unwrap_err().desc,
            "CurTime is expired"
        );
        assert_eq!(
            verify(&app(), sig, 699_999, 300).unwrap_err().desc,
            "CurTime is expired"
        );
    }

    #[test]
    fn replay_expires_with_the_window() {
        let g = ReplayGuard::new(300);
        assert!(g.check_and_record(1, "n", 1000, 1_000_000));
        assert!(!g.check_and_record(1, "n", 1000, 1_000_000));
        assert!(
            g.check_and_record(2, "n", 1000, 1_000_000),
            "apps do not share nonces"
        );
        assert!(g.check_and_record(1, "n", 1001, 1_000_000));
        g.check_and_record(1, "x", 2000, 1_700_000);
        assert_eq!(g.len(), 1, "entries older than the window are dropped");
    }
}
