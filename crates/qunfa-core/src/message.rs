//! Messages: NIM's types and body rules, and the message as stored.
//!
//! A message is stored once, whoever it reaches: a point-to-point message names its
//! recipient, a targeted (mass) or broadcast message carries its audience as a bitmap of
//! account ordinals fixed at send time.

use serde_json::{Map, Value};

use crate::ApiError;
use crate::account::Accid;
use crate::ids::{MsgId, Ordinal};
use crate::team::Tid;

/// NIM's message types: 0 text, 1 image, 2 voice, 3 video, 4 location, 6 file, 10 tip, 100 custom.
pub const TYPES: [u16; 8] = [0, 1, 2, 3, 4, 6, 10, 100];

pub const MAX_EXT: usize = 1024;
pub const DEFAULT_MAX_BODY: usize = 5000;

/// `type`, as a number or a numeric string.
pub fn parse_type(raw: Option<&str>) -> Result<u16, ApiError> {
    let raw = raw
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::missing("type"))?;
    raw.parse::<u16>()
        .ok()
        .filter(|t| TYPES.contains(t))
        .ok_or_else(|| {
            ApiError::param(format!(
                "type must be one of 0, 1, 2, 3, 4, 6, 10, 100: {raw:?}"
            ))
        })
}

#[derive(Clone, Copy, PartialEq)]
enum Field {
    Str,
    Int,
    Num,
}

/// The documented body fields of each type: (name, JSON type, required).
fn fields(msg_type: u16) -> &'static [(&'static str, Field, bool)] {
    use Field::*;
    match msg_type {
        0 | 10 => &[("msg", Str, true)],
        1 => &[
            ("name", Str, false),
            ("md5", Str, false),
            ("url", Str, false),
            ("ext", Str, false),
            ("w", Int, false),
            ("h", Int, false),
            ("size", Int, false),
        ],
        2 => &[
            ("dur", Int, false),
            ("md5", Str, false),
            ("url", Str, false),
            ("ext", Str, false),
            ("size", Int, false),
        ],
        3 => &[
            ("dur", Int, false),
            ("md5", Str, false),
            ("url", Str, false),
            ("w", Int, false),
            ("h", Int, false),
            ("ext", Str, false),
            ("size", Int, false),
        ],
        4 => &[
            ("title", Str, false),
            ("lng", Num, true),
            ("lat", Num, true),
        ],
        6 => &[
            ("name", Str, false),
            ("md5", Str, false),
            ("url", Str, false),
            ("ext", Str, false),
            ("size", Int, false),
        ],
        _ => &[],
    }
}

/// Checks `body` (JSON text of an object) against its type; other fields are kept as sent.
/// Answers the object, re-encoded compactly.
pub fn check_body(
    msg_type: u16,
    raw: Option<&str>,
    max_chars: usize,
) -> Result<Map<String, Value>, ApiError> {
    let raw = raw
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::missing("body"))?;
    if raw.chars().count() > max_chars {
        return Err(ApiError::too_long("body", max_chars));
    }
    let Ok(Value::Object(body)) = serde_json::from_str::<Value>(raw) else {
        return Err(ApiError::param("body must be a JSON object"));
    };
    for &(name, kind, required) in fields(msg_type) {
        let ok = match (body.get(name), kind) {
            (None, _) => !required,
            (Some(Value::String(_)), Field::Str) => true,
            (Some(Value::Number(n)), Field::Int) => n.as_u64().is_some(),
            (Some(Value::Number(_)), Field::Num) => true,
            _ => false,
        };
        if !ok {
            let what = match kind {
                Field::Str => "a string",
                Field::Int => "a non-negative integer",
                Field::Num => "a number",
            };
            return Err(ApiError::param(format!(
                "body.{name} must be {what} for type {msg_type}"
            )));
        }
    }
    Ok(body)
}

/// Checks `ext` (≤ 1,024 characters).
pub fn check_ext(raw: Option<&str>) -> Result<Option<String>, ApiError> {
    match raw {
        Some(e) if e.chars().count() > MAX_EXT => Err(ApiError::too_long("ext", MAX_EXT)),
        Some(e) if !e.is_empty() => Ok(Some(e.to_owned())),
        _ => Ok(None),
    }
}

/// The text a message shows, for the keyword filter: every string in the body (text,
/// titles, names, card fields) and `ext`.
pub fn shown_text(body: &Value, ext: Option<&str>) -> String {
    fn walk(v: &Value, out: &mut String) {
        match v {
            Value::String(s) => {
                out.push_str(s);
                out.push('\n');
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            Value::Object(o) => o.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = String::new();
    walk(body, &mut out);
    if let Some(e) = ext {
        out.push_str(e);
    }
    out
}

/// How a message reaches people.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MsgKind {
    /// One recipient (`sendMsg`, and each recipient of `sendBatchMsg`).
    P2p,
    /// A targeted send (`sendMsgToAll`): the audience bitmap.
    Mass,
    /// `broadcastMsg`: every account at send time.
    Broadcast,
    /// A recall tombstone: `ref_msgid` was withdrawn; it reaches whoever the original reached.
    Recall,
    /// A team message or team notification (type 5), stored once per team: its audience is
    /// the team's members at its msgid.
    Team,
    /// A custom notification (`sendAttachMsg`): to one account, or to a team's members. Kept
    /// for catch-up only when sent with `save=2` (`offline`); never in a history listing.
    Notify,
}

impl MsgKind {
    pub fn as_i64(self) -> i64 {
        match self {
            MsgKind::P2p => 0,
            MsgKind::Mass => 1,
            MsgKind::Broadcast => 2,
            MsgKind::Recall => 3,
            MsgKind::Team => 4,
            MsgKind::Notify => 5,
        }
    }
    pub fn from_i64(v: i64) -> MsgKind {
        match v {
            1 => MsgKind::Mass,
            2 => MsgKind::Broadcast,
            3 => MsgKind::Recall,
            4 => MsgKind::Team,
            5 => MsgKind::Notify,
            _ => MsgKind::P2p,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            MsgKind::P2p => "p2p",
            MsgKind::Mass => "mass",
            MsgKind::Broadcast => "broadcast",
            MsgKind::Recall => "recall",
            MsgKind::Team => "team",
            MsgKind::Notify => "notify",
        }
    }
}

/// A message to store.
#[derive(Clone, Debug, PartialEq)]
pub struct NewMessage {
    pub kind: MsgKind,
    pub from: Accid,
    /// The recipient of a point-to-point message (or of the original, for a p2p recall).
    pub to: Option<Accid>,
    pub to_ordinal: Option<Ordinal>,
    pub msg_type: u16,
    /// JSON text (an object), or the plain text of a broadcast.
    pub body: String,
    pub ext: Option<String>,
    /// NIM's other send parameters as a JSON object (option, payload, pushcontent, …).
    pub extra: Option<String>,
    pub msgidclient: Option<String>,
    /// Intercepted by the keyword filter: stored, never delivered.
    pub antispam: bool,
    pub mark_read: bool,
    /// Encoded audience bitmap (mass, broadcast).
    pub audience: Option<Vec<u8>>,
    pub recipients: u64,
    /// JSON of what a mass send selected.
    pub selection: Option<String>,
    /// Broadcast: kept for clients that were offline.
    pub offline: bool,
    pub expire_ms: Option<i64>,
    /// Recall: the withdrawn message.
    pub ref_msgid: Option<MsgId>,
    /// The team of a team message, team notification or team recall.
    pub tid: Option<Tid>,
    /// The sender's ordinal, when the sender's own sessions get the message too (sent by a
    /// client: its other devices). Team messages reach the sender through their audience.
    pub from_ordinal: Option<Ordinal>,
    /// The content hash of the audience ([`crate::audience::digest`]) when the sender has it
    /// already: with `audience` it spares hashing it again; without, the message refers to an
    /// audience the store already holds (a team's members, a recalled message's audience).
    pub audience_digest: Option<[u8; 32]>,
    /// Copy it to the app's server (抄送): the outbox row is written in the same transaction,
    /// with this context (a JSON object of what the payload needs besides the message, see
    /// [`crate::callback`]). `None`: not copied.
    pub copy: Option<String>,
}

impl NewMessage {
    pub fn new(kind: MsgKind, from: Accid, msg_type: u16, body: String) -> NewMessage {
        NewMessage {
            kind,
            from,
            to: None,
            to_ordinal: None,
            msg_type,
            body,
            ext: None,
            extra: None,
            msgidclient: None,
            antispam: false,
            mark_read: false,
            audience: None,
            recipients: 1,
            selection: None,
            offline: true,
            expire_ms: None,
            ref_msgid: None,
            tid: None,
            from_ordinal: None,
            audience_digest: None,
            copy: None,
        }
    }

    /// Its audience's content hash: the one given, else that of `audience`.
    pub fn audience_hash(&self) -> Option<[u8; 32]> {
        self.audience_digest
            .or_else(|| self.audience.as_deref().map(crate::audience::digest))
    }
}

impl NewMessage {
    /// The message as stored once `sent` answered for it.
    pub fn stored(&self, sent: &Sent) -> Message {
        Message {
            msgid: sent.msgid,
            timetag: sent.timetag,
            kind: self.kind,
            from: self.from.clone(),
            to: self.to.clone(),
            to_ordinal: self.to_ordinal,
            msg_type: self.msg_type,
            body: self.body.clone(),
            ext: self.ext.clone(),
            extra: self.extra.clone(),
            msgidclient: self.msgidclient.clone(),
            antispam: self.antispam,
            mark_read: self.mark_read,
            recipients: self.recipients,
            selection: self.selection.clone(),
            offline: self.offline,
            expire_ms: self.expire_ms,
            ref_msgid: self.ref_msgid,
            tid: self.tid,
            from_ordinal: self.from_ordinal,
            audience_hash: self.audience_hash(),
            recalled_ms: None,
            deleted: false,
        }
    }
}

/// A stored message (without its audience bitmap).
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub msgid: MsgId,
    pub timetag: i64,
    pub kind: MsgKind,
    pub from: Accid,
    pub to: Option<Accid>,
    /// The point-to-point recipient's ordinal.
    pub to_ordinal: Option<Ordinal>,
    pub msg_type: u16,
    pub body: String,
    pub ext: Option<String>,
    pub extra: Option<String>,
    pub msgidclient: Option<String>,
    pub antispam: bool,
    pub mark_read: bool,
    pub recipients: u64,
    pub selection: Option<String>,
    pub offline: bool,
    pub expire_ms: Option<i64>,
    pub ref_msgid: Option<MsgId>,
    pub tid: Option<Tid>,
    /// The sender's ordinal when its own sessions get the message too (client sends).
    pub from_ordinal: Option<Ordinal>,
    /// The content hash of its audience bitmap (mass, broadcast, team, their recalls).
    pub audience_hash: Option<[u8; 32]>,
    pub recalled_ms: Option<i64>,
    pub deleted: bool,
}

/// What storing one message answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    pub msgid: MsgId,
    pub timetag: i64,
    pub antispam: bool,
    pub recipients: u64,
    /// An earlier send with the same `msgidclient` inside the idempotency window answered
    /// instead; nothing new was stored.
    pub duplicate: bool,
}

/// Which broadcasts `queryBroadcastMsg` lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BroadcastFilter {
    All,
    Offline,
    OnlineOnly,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_and_bodies() {
        assert_eq!(parse_type(Some("2")), Ok(2));
        assert_eq!(parse_type(Some(" 100 ")), Ok(100));
        assert_eq!(
            parse_type(None).unwrap_err().desc,
            "missing parameter: type"
        );
        assert_eq!(
            parse_type(Some("5")).unwrap_err().desc,
            "type must be one of 0, 1, 2, 3, 4, 6, 10, 100: \"5\""
        );
        assert!(check_body(0, Some(r#"{"msg":"hi"}"#), 5000).is_ok());
        assert_eq!(
            check_body(0, Some(r#"{"msg":1}"#), 5000).unwrap_err().desc,
            "body.msg must be a string for type 0"
        );
        assert_eq!(
            check_body(0, Some(r#"{}"#), 5000).unwrap_err().desc,
            "body.msg must be a string for type 0"
        );
        assert_eq!(
            check_body(4, Some(r#"{"lat":"1","lng":2}"#), 5000)
                .unwrap_err()
                .desc,
            "body.lat must be a number for type 4"
        );
        assert_eq!(
            check_body(1, Some(r#"{"w":-1}"#), 5000).unwrap_err().desc,
            "body.w must be a non-negative integer for type 1"
        );
        assert_eq!(
            check_body(2, Some(r#"{"card":{"x":1}}"#), 5000).unwrap()["card"]["x"],
            1
        );
        assert_eq!(
            check_body(100, Some("[1]"), 5000).unwrap_err().desc,
            "body must be a JSON object"
        );
        assert_eq!(
            check_body(100, Some("\"{jsonbody}\""), 5000)
                .unwrap_err()
                .desc,
            "body must be a JSON object"
        );
        assert_eq!(
            check_body(100, Some(&format!("{{\"a\":\"{}\"}}", "x".repeat(20))), 10)
                .unwrap_err()
                .desc,
            "body is longer than 10 characters"
        );
    }
}
