//! Accounts (NIM's `user/*`): accid rules, profile field limits, tokens.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ApiError;

pub const MAX_ACCID_LEN: usize = 32;
pub const MAX_TOKEN_LEN: usize = 128;

/// A validated, lower-cased account id: 1..=32 chars of `[a-z0-9_@.-]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Accid(String);

impl Accid {
    /// Lower-cases and checks an accid; `param` names the field in the error.
    pub fn parse(raw: &str, param: &str) -> Result<Accid, ApiError> {
        if raw.is_empty() {
            return Err(ApiError::missing(param));
        }
        if raw.chars().count() > MAX_ACCID_LEN {
            return Err(ApiError::too_long(param, MAX_ACCID_LEN));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'@' | b'.' | b'-'))
        {
            return Err(ApiError::param(format!(
                "{param} may only contain letters, digits, _ @ . -: {raw:?}"
            )));
        }
        Ok(Accid(raw.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For values read back from a store, which only ever holds validated accids.
    pub fn from_stored(s: String) -> Accid {
        Accid(s)
    }
}

impl std::fmt::Display for Accid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The profile fields of `user/create` and `user/updateUinfo`, with NIM's limits.
/// `(name, max chars)`; `gender` is separate because it is a number.
pub const PROFILE_FIELDS: [(&str, usize); 8] = [
    ("name", 64),
    ("icon", 1024),
    ("sign", 256),
    ("email", 64),
    ("birth", 16),
    ("mobile", 32),
    ("ex", 1024),
    ("props", 1024),
];

/// Longest `areaid` / `enterptypeid`.
pub const MAX_DICT_ID_LEN: usize = 64;

/// Profile values. In a patch `None` means "leave as is" and `Some("")` clears the field.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub name: Option<String>,
    pub icon: Option<String>,
    pub sign: Option<String>,
    pub email: Option<String>,
    pub birth: Option<String>,
    pub mobile: Option<String>,
    pub ex: Option<String>,
    pub props: Option<String>,
    pub gender: Option<u8>,
    pub areaid: Option<String>,
    pub enterptypeid: Option<String>,
}

impl Profile {
    /// Sets a text field by its wire name after checking its limit.
    pub fn set(&mut self, field: &str, value: String) -> Result<(), ApiError> {
        let Some(&(name, max)) = PROFILE_FIELDS.iter().find(|(n, _)| *n == field) else {
            return match field {
                "gender" => {
                    self.gender = Some(parse_gender(&value)?);
                    Ok(())
                }
                "areaid" | "enterptypeid" => {
                    if value.chars().count() > MAX_DICT_ID_LEN {
                        return Err(ApiError::too_long(field, MAX_DICT_ID_LEN));
                    }
                    let slot = if field == "areaid" {
                        &mut self.areaid
                    } else {
                        &mut self.enterptypeid
                    };
                    *slot = Some(value);
                    Ok(())
                }
                _ => Err(ApiError::param(format!("unknown field: {field}"))),
            };
        };
        if value.chars().count() > max {
            return Err(ApiError::too_long(name, max));
        }
        let slot = match name {
            "name" => &mut self.name,
            "icon" => &mut self.icon,
            "sign" => &mut self.sign,
            "email" => &mut self.email,
            "birth" => &mut self.birth,
            "mobile" => &mut self.mobile,
            "ex" => &mut self.ex,
            _ => &mut self.props,
        };
        *slot = Some(value);
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        *self == Profile::default()
    }
}

/// Every field name `Profile::set` takes.
pub const SETTABLE_FIELDS: [&str; 11] = [
    "name",
    "icon",
    "sign",
    "email",
    "birth",
    "mobile",
    "ex",
    "props",
    "gender",
    "areaid",
    "enterptypeid",
];

fn parse_gender(v: &str) -> Result<u8, ApiError> {
    match v.trim() {
        "" | "0" => Ok(0),
        "1" => Ok(1),
        "2" => Ok(2),
        _ => Err(ApiError::param(format!("gender must be 0, 1 or 2: {v:?}"))),
    }
}

/// A token as given, or a fresh random one (32 hex chars, like NIM's).
pub fn token_or_generate(given: Option<String>) -> Result<String, ApiError> {
    match given {
        Some(t) if t.chars().count() > MAX_TOKEN_LEN => {
            Err(ApiError::too_long("token", MAX_TOKEN_LEN))
        }
        Some(t) if !t.is_empty() => Ok(t),
        _ => Ok(crate::random_hex(16)),
    }
}

/// What is stored instead of the token: `sha256(accid 0x00 token)`. Tokens are compared by hash
/// at login, so a leaked database does not leak logins.
pub fn hash_token(accid: &Accid, token: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(accid.as_str().as_bytes());
    h.update([0u8]);
    h.update(token.as_bytes());
    h.finalize().into()
}

/// An account to create.
#[derive(Clone, Debug)]
pub struct NewAccount {
    pub accid: Accid,
    pub token_hash: [u8; 32],
    pub profile: Profile,
}

/// An account as stored (never with its token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub accid: Accid,
    /// Dense per-app number used in audience bitmaps; assigned at creation, never reused.
    pub ordinal: crate::ids::Ordinal,
    pub profile: Profile,
    pub blocked: bool,
}

/// A change to an account; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct AccountPatch {
    pub token_hash: Option<[u8; 32]>,
    pub profile: Profile,
    pub blocked: Option<bool>,
    /// Ends the account's live sessions on every node, with this reason: recorded with the
    /// write, so a node that missed the bus event still kicks them when it catches up.
    pub kick: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accid_rules() {
        assert_eq!(
            Accid::parse("Zhang.San@x-1_", "accid").unwrap().as_str(),
            "zhang.san@x-1_"
        );
        assert_eq!(
            Accid::parse("", "accid").unwrap_err().desc,
            "missing parameter: accid"
        );
        assert_eq!(
            Accid::parse(&"a".repeat(33), "accid").unwrap_err().desc,
            "accid is longer than 32 characters"
        );
        assert!(Accid::parse("a b", "accid").is_err());
        assert!(Accid::parse("张三", "accid").is_err());
    }

    #[test]
    fn profile_limits() {
        let mut p = Profile::default();
        assert!(p.set("name", "n".repeat(64)).is_ok());
        assert_eq!(
            p.set("name", "n".repeat(65)).unwrap_err().desc,
            "name is longer than 64 characters"
        );
        assert_eq!(
            p.set("gender", "3".into()).unwrap_err().desc,
            "gender must be 0, 1 or 2: \"3\""
        );
        assert!(p.set("gender", "2".into()).is_ok());
        assert_eq!(p.gender, Some(2));
    }
}
