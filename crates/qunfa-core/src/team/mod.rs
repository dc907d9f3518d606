//! Advanced teams (NIM's 高级群): the team id, roles, a team's and a member's stored fields,
//! pending invitations and applications, and the field limits of NIM's `team/*` API.
//!
//! Membership is kept per team as a bitmap of account ordinals (the audience index's), with
//! each member's periods of membership as msgids: a member sees the team messages with
//! `join < msgid ≤ leave` of one of its periods. A team message's audience is the member
//! bitmap at its msgid, so "the audience holds the account" and "inside one of its periods"
//! are the same question (`periods.rs` has the model the property test checks against).

pub mod attach;
pub mod periods;

use serde::{Deserialize, Serialize};

use crate::ApiError;
use crate::account::Accid;
use crate::ids::{MAX_MSGID, Ordinal};

/// A team: a positive integer below 2^53, unique per app, never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tid(pub i64);

impl std::fmt::Display for Tid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Tid {
    /// A tid given as a number or a numeric string (`1234`, `"1234"`, with spaces around).
    /// `name` is the parameter, for the refusal: `414 NAME must be a team id`.
    pub fn parse(raw: &str, name: &str) -> Result<Tid, ApiError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(ApiError::missing(name));
        }
        raw.parse::<i64>()
            .ok()
            .filter(|t| (1..=MAX_MSGID).contains(t))
            .map(Tid)
            .ok_or_else(|| ApiError::param(format!("{name} must be a team id")))
    }

    /// A JSON array of tids, as numbers or numeric strings (`["3083","3084"]`, `[3083, 3084]`),
    /// at most `max` (repeats count once, and are dropped).
    pub fn parse_list(raw: &str, name: &str, max: usize) -> Result<Vec<Tid>, ApiError> {
        let bad = || ApiError::param(format!("{name} must be a JSON array of team ids"));
        let values: Vec<serde_json::Value> = serde_json::from_str(raw).map_err(|_| bad())?;
        let mut out: Vec<Tid> = Vec::with_capacity(values.len());
        for v in values {
            let tid = match v {
                serde_json::Value::Number(n) => Tid::parse(&n.to_string(), name)?,
                serde_json::Value::String(s) => Tid::parse(&s, name)?,
                _ => return Err(bad()),
            };
            if !out.contains(&tid) {
                out.push(tid);
            }
        }
        if out.len() > max {
            return Err(ApiError::param(format!(
                "{name} has more than {max} team ids"
            )));
        }
        Ok(out)
    }
}

/// What a member is in its team.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    Owner,
    Manager,
    Member,
}

impl Role {
    pub fn as_i64(self) -> i64 {
        match self {
            Role::Owner => 0,
            Role::Manager => 1,
            Role::Member => 2,
        }
    }
    pub fn from_i64(v: i64) -> Role {
        match v {
            0 => Role::Owner,
            1 => Role::Manager,
            _ => Role::Member,
        }
    }
    /// Owner or manager: who may manage the team.
    pub fn manages(self) -> bool {
        matches!(self, Role::Owner | Role::Manager)
    }
}

/// NIM's field limits (characters, except `MEMBER_CUSTOM_BYTES`).
pub const MAX_TNAME: usize = 64;
pub const MAX_ANNOUNCEMENT: usize = 1024;
pub const MAX_INTRO: usize = 512;
pub const MAX_CUSTOM: usize = 1024;
pub const MAX_ICON: usize = 1024;
pub const MAX_MSG: usize = 150;
pub const MAX_ATTACH: usize = 512;
pub const MAX_NICK: usize = 32;
pub const MEMBER_CUSTOM_BYTES: usize = 1024;
/// NIM's default `teamMemberLimit`.
pub const DEFAULT_MEMBER_LIMIT: u32 = 200;

/// `muteType`: 0 nobody banned, 1 ordinary members banned, 3 everyone banned (owner too).
pub const MUTE_NONE: u8 = 0;
pub const MUTE_MEMBERS: u8 = 1;
pub const MUTE_ALL: u8 = 3;

/// A team as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Team {
    pub tid: Tid,
    pub tname: String,
    pub owner: Accid,
    pub icon: String,
    pub announcement: String,
    pub intro: String,
    pub custom: String,
    pub client_custom: String,
    pub joinmode: u8,
    pub beinvitemode: u8,
    pub invitemode: u8,
    pub uptinfomode: u8,
    pub upcustommode: u8,
    /// `teamMemberLimit` (NIM answers it as `maxusers`), the owner included.
    pub max_users: u32,
    pub mute_type: u8,
    pub notify_close_online: bool,
    pub notify_close_persistent: bool,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// Dismissed (`team/remove`): kept, so its tid stays taken and its history readable.
    pub dismissed: bool,
    /// Bumped by every change of the team, its members or its pending lists: a write that was
    /// decided on an older version is refused by the store (and decided again).
    pub version: i64,
}

impl Team {
    /// A new team's defaults (NIM's), owned by `owner`.
    pub fn new(tid: Tid, tname: String, owner: Accid, now_ms: i64) -> Team {
        Team {
            tid,
            tname,
            owner,
            icon: String::new(),
            announcement: String::new(),
            intro: String::new(),
            custom: String::new(),
            client_custom: String::new(),
            joinmode: 0,
            beinvitemode: 0,
            invitemode: 0,
            uptinfomode: 0,
            upcustommode: 0,
            max_users: DEFAULT_MEMBER_LIMIT,
            mute_type: MUTE_NONE,
            notify_close_online: false,
            notify_close_persistent: false,
            created_ms: now_ms,
            updated_ms: now_ms,
            dismissed: false,
            version: 0,
        }
    }
}

/// A member's record in one team.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub ordinal: Ordinal,
    pub accid: Accid,
    pub role: Role,
    pub nick: String,
    /// Banned by `muteTlist`.
    pub mute: bool,
    pub custom: String,
    /// `muteTeam`: the member's own notification switch.
    pub push_enable: bool,
    /// When it joined (NIM's `createtime`).
    pub joined_ms: i64,
    pub updated_ms: i64,
}

impl Member {
    pub fn new(ordinal: Ordinal, accid: Accid, role: Role, now_ms: i64) -> Member {
        Member {
            ordinal,
            accid,
            role,
            nick: String::new(),
            mute: false,
            custom: String::new(),
            push_enable: true,
            joined_ms: now_ms,
            updated_ms: now_ms,
        }
    }
}

/// A member row as a node follows it: `active` false once the account left the team.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberChange {
    pub tid: Tid,
    pub member: Member,
    pub active: bool,
}

/// A pending invitation (`magree=1`): the invitee is not a member until it accepts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    pub tid: Tid,
    pub ordinal: Ordinal,
    pub accid: Accid,
    pub inviter: Accid,
    pub msg: String,
    pub attach: Option<String>,
    pub time_ms: i64,
}

/// A pending application to a `joinmode=1` team.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    pub tid: Tid,
    pub ordinal: Ordinal,
    pub accid: Accid,
    pub msg: String,
    pub time_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tids_are_numbers_or_numeric_strings() {
        assert_eq!(Tid::parse(" 1234 ", "tid"), Ok(Tid(1234)));
        for bad in ["0", "-1", "x", "1.5", "9007199254740992"] {
            assert_eq!(
                Tid::parse(bad, "tid").unwrap_err().desc,
                "tid must be a team id",
                "{bad}"
            );
        }
        assert_eq!(
            Tid::parse("", "tid").unwrap_err().desc,
            "missing parameter: tid"
        );
        assert_eq!(
            Tid::parse_list(r#"["3083", " 3084",3083]"#, "tids", 30),
            Ok(vec![Tid(3083), Tid(3084)])
        );
        assert_eq!(
            Tid::parse_list("[3083, 3084]", "tids", 30),
            Ok(vec![Tid(3083), Tid(3084)])
        );
        assert_eq!(
            Tid::parse_list("[true]", "tids", 30).unwrap_err().desc,
            "tids must be a JSON array of team ids"
        );
        assert_eq!(
            Tid::parse_list("[1,2,3]", "tids", 2).unwrap_err().desc,
            "tids has more than 2 team ids"
        );
    }
}
