//! The two dictionaries targeted sends select on: `dic_area` (a tree: province → city →
//! district) and `dic_enterptype` (flat). Both are per app.

use serde::{Deserialize, Serialize};

use crate::ApiError;
use crate::account::MAX_DICT_ID_LEN;

pub const MAX_DICT_NAME_LEN: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Area {
    pub areaid: String,
    pub name: String,
    /// `None` for a root area.
    pub parentid: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enterptype {
    pub enterptypeid: String,
    pub name: String,
}

/// A dictionary id: 1..=64 chars of `[A-Za-z0-9_.-]` (Chinese admin codes like `370100` fit).
pub fn check_id(param: &str, id: &str) -> Result<(), ApiError> {
    if id.is_empty() {
        return Err(ApiError::missing(param));
    }
    if id.chars().count() > MAX_DICT_ID_LEN {
        return Err(ApiError::too_long(param, MAX_DICT_ID_LEN));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err(ApiError::param(format!(
            "{param} may only contain letters, digits, _ . -: {id:?}"
        )));
    }
    Ok(())
}

pub fn check_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() {
        return Err(ApiError::missing("name"));
    }
    if name.chars().count() > MAX_DICT_NAME_LEN {
        return Err(ApiError::too_long("name", MAX_DICT_NAME_LEN));
    }
    Ok(())
}
