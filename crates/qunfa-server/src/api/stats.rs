//! Delivery and read statistics (`msg/queryMassMsgStats`, qunfa) and NIM's server-side read
//! receipt (`msg/markReadMsg`).

use std::sync::Arc;

use axum::extract::State;
use qunfa_core::ApiError;
use qunfa_core::ids::MsgId;
use qunfa_service::receipts::MessageRef;
use qunfa_service::stats::{Page, StatsList};
use serde_json::json;

use super::{Answer, Nim, ok};
use crate::state::AppState;

pub const MAX_LIST: usize = 1000;

/// `msg/queryMassMsgStats`: for a targeted, broadcast or point-to-point message, how many it
/// was for, how many have it (their acknowledged cursor reached it) and how many read it;
/// with `list=read|unread|undelivered`, a page of those accounts.
pub async fn query_mass_msg_stats(
    State(s): State<Arc<AppState>>,
    Nim { app, params }: Nim,
) -> Answer {
    let msgid = params.msgid("msgid")?;
    let list = match params.one_of("list", &["read", "unread", "undelivered"])? {
        None => None,
        Some("read") => Some(StatsList::Read),
        Some("unread") => Some(StatsList::Unread),
        Some(_) => Some(StatsList::Undelivered),
    };
    let after = params.int("cursor")?.unwrap_or(-1);
    let limit = params.limit(Some(100), MAX_LIST)?;
    let page = list.map(|list| Page { list, after, limit });
    let st = s.services.msg_stats(app.id, msgid, page).await?;
    let mut data = json!({
        "msgid": st.msgid,
        "recipients": st.recipients,
        "delivered": st.delivered,
        "read": st.read,
    });
    if let Some((list, accids, cursor)) = st.page {
        data["list"] = json!(list.name());
        data["accids"] = json!(accids);
        data["cursor"] = json!(cursor);
    }
    ok(json!({ "data": data }))
}

/// `msg/markReadMsg`: NIM's point-to-point read receipt sent by the app server: `from` read the
/// message `to` sent them, named by `msgidClient` (or by qunfa's `msgid`).
pub async fn mark_read_msg(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let reader = params.accid("from")?;
    let sender = params.accid("to")?;
    let which = match (
        params.get("msgidClient").filter(|v| !v.is_empty()),
        params.get("msgid").filter(|v| !v.is_empty()),
    ) {
        (Some(client), _) => MessageRef::Client(client.to_owned()),
        (None, Some(_)) => MessageRef::Id(MsgId(params.required_int("msgid")?)),
        (None, None) => return Err(ApiError::missing("msgidClient").into()),
    };
    let timestamp = s
        .services
        .mark_read_msg(app.id, &reader, &sender, which)
        .await?;
    ok(json!({"data": {"timestamp": timestamp}}))
}
