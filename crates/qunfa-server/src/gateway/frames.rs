//! The JSON frames the gateway sends, encoded once per event and shared by every recipient.

use axum::extract::ws::Utf8Bytes;
use qunfa_core::message::{Message, MsgKind};
use serde_json::json;

use crate::hub::Outbound;

/// The frame for a stored message: `msg`, or `recall` for a recall tombstone.
pub fn message(m: &Message) -> Outbound {
    let v = match m.kind {
        MsgKind::Recall => json!({
            "op": "recall",
            "msgid": m.msgid,
            "recallMsgid": m.ref_msgid,
            "from": m.from,
            "time": m.timetag,
        }),
        _ => json!({"op": "msg", "msg": crate::api::history::user_message_json(m)}),
    };
    Outbound {
        msgid: Some(m.msgid),
        frame: Utf8Bytes::from(v.to_string()),
    }
}

pub fn receipt(msgid: i64, reader: &str, time: i64) -> Outbound {
    let v = json!({"op": "receipt", "msgid": msgid, "reader": reader, "time": time});
    Outbound {
        msgid: None,
        frame: Utf8Bytes::from(v.to_string()),
    }
}
