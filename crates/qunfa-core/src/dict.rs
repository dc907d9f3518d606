//! The two dictionaries targeted sends select on: `dic_area` (a tree: province → city →
//! district) and `dic_enterptype` (flat). Both are per app.

use serde::{Deserialize, Serialize};

use crate::ApiError;
use crate::account::MAX_DICT_ID_LEN;
use crate::store::{StoreError, StoreResult};

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

/// Whether `areaid` may move under `new_parent`: walks up from the new parent through
/// `parent_of` (an area's parent: `None` for an unknown area, `Some(None)` for a root).
/// Meeting `areaid` on the way is a `Cycle`; an unknown new parent is `UnknownParent`.
/// Backends call this inside the write transaction that then moves the area.
pub fn check_reparent(
    areaid: &str,
    new_parent: &str,
    mut parent_of: impl FnMut(&str) -> StoreResult<Option<Option<String>>>,
) -> StoreResult<()> {
    let mut cur = Some(new_parent.to_owned());
    let mut steps = 0usize;
    while let Some(id) = cur {
        if id == areaid {
            return Err(StoreError::Cycle(new_parent.to_owned()));
        }
        cur = match parent_of(&id)? {
            None if steps == 0 => return Err(StoreError::UnknownParent(new_parent.to_owned())),
            None => None,
            Some(p) => p,
        };
        steps += 1;
        // The tree the store holds has no cycle; the bound only guards against a corrupt one.
        if steps > 1_000_000 {
            return Err(StoreError::Internal(format!(
                "area tree above {new_parent} has a cycle"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reparent_walks_up_from_the_new_parent() {
        let tree = |id: &str| -> StoreResult<Option<Option<String>>> {
            Ok(match id {
                "37" => Some(None),
                "3701" => Some(Some("37".into())),
                "370102" => Some(Some("3701".into())),
                _ => None,
            })
        };
        assert_eq!(
            check_reparent("37", "370102", tree),
            Err(StoreError::Cycle("370102".into()))
        );
        assert_eq!(
            check_reparent("37", "37", tree),
            Err(StoreError::Cycle("37".into()))
        );
        assert_eq!(
            check_reparent("37", "zz", tree),
            Err(StoreError::UnknownParent("zz".into()))
        );
        assert_eq!(check_reparent("370102", "37", tree), Ok(()));
    }
}
