//! Team notifications (type-5 messages in the team's stream): NIM's client-SDK format
//! `{"id":<operation>,"data":{…}}`, and the team fields in NIM's server-API names, which both
//! the notifications and `team/query` show.

use serde_json::{Map, Value, json};

use super::Team;
use crate::account::Accid;

/// NIM's notification ids (`NIMNotificationId`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `create`, and `add` of members admitted without agreement.
    Invite = 0,
    Kick = 1,
    Leave = 2,
    /// `update`, `muteTlistAll`.
    Update = 3,
    Dismiss = 4,
    ApplyPass = 5,
    OwnerTransfer = 6,
    AddManager = 7,
    RemoveManager = 8,
    InviteAccept = 9,
    MuteMember = 10,
}

/// The team fields `team/query` answers for every team (`ope=0`), in server-API names.
pub fn team_info(t: &Team, size: u64) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("tname".into(), json!(t.tname));
    o.insert("icon".into(), json!(t.icon));
    o.insert("owner".into(), json!(t.owner));
    o.insert("maxusers".into(), json!(t.max_users));
    o.insert("tid".into(), json!(t.tid));
    o.insert("size".into(), json!(size));
    o.insert("announcement".into(), json!(t.announcement));
    o.insert("intro".into(), json!(t.intro));
    o.insert("joinmode".into(), json!(t.joinmode));
    o.insert("beinvitemode".into(), json!(t.beinvitemode));
    o.insert("uptinfomode".into(), json!(t.uptinfomode));
    o.insert("upcustommode".into(), json!(t.upcustommode));
    o.insert("invitemode".into(), json!(t.invitemode));
    o.insert("muteType".into(), json!(t.mute_type));
    o.insert("mute".into(), json!(t.mute_type != 0));
    o.insert("isNotifyCloseOnline".into(), json!(t.notify_close_online));
    o.insert(
        "isNotifyClosePersistent".into(),
        json!(t.notify_close_persistent),
    );
    o.insert("custom".into(), json!(t.custom));
    o.insert("clientCustom".into(), json!(t.client_custom));
    o.insert("createtime".into(), json!(t.created_ms));
    o.insert("updatetime".into(), json!(t.updated_ms));
    o
}

/// A notification's stored body: `{"id":op,"data":data}`, with the operator's `attach`
/// (when given) copied to `data.attach`.
pub fn notification(op: Op, mut data: Map<String, Value>, attach: Option<&str>) -> String {
    if let Some(a) = attach.filter(|a| !a.is_empty()) {
        data.insert("attach".into(), json!(a));
    }
    json!({"id": op as u8, "data": Value::Object(data)}).to_string()
}

/// `{"ids":[…]}`.
pub fn ids(accids: &[Accid]) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("ids".into(), json!(accids));
    o
}

/// `{"id":"a"}`.
pub fn id(accid: &Accid) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("id".into(), json!(accid));
    o
}

/// `{"team_info":{…}}`.
pub fn team_info_data(fields: Map<String, Value>) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("team_info".into(), Value::Object(fields));
    o
}
