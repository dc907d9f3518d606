//! Delivery and read statistics (`msg/queryMassMsgStats`, qunfa) and NIM's server-side read
//! receipt (`msg/markReadMsg`).

use std::sync::Arc;

use axum::extract::State;
use qunfa_core::audience;
use qunfa_core::message::MsgKind;
use qunfa_core::{ApiError, Code};
use roaring::RoaringBitmap;
use serde_json::json;

use super::{Answer, Nim, Params, ok};
use crate::state::AppState;

pub const MAX_LIST: usize = 1000;

fn int(params: &Params, name: &str, default: Option<i64>) -> Result<i64, ApiError> {
    match params.get(name).map(str::trim) {
        None | Some("") => default.ok_or_else(|| ApiError::missing(name)),
        Some(v) => v
            .parse()
            .map_err(|_| ApiError::param(format!("{name} must be an integer: {v:?}"))),
    }
}

/// `msg/queryMassMsgStats`: for a targeted, broadcast or point-to-point message, how many it
/// was for, how many have it (their acknowledged cursor reached it) and how many read it;
/// with `list=read|unread|undelivered`, a page of those accounts.
pub async fn query_mass_msg_stats(
    State(s): State<Arc<AppState>>,
    Nim { app, params }: Nim,
) -> Answer {
    let msgid = int(&params, "msgid", None)?;
    let list = match params.get("list").map(str::trim) {
        None | Some("") => None,
        Some(l @ ("read" | "unread" | "undelivered")) => Some(l.to_owned()),
        Some(v) => {
            return Err(ApiError::param(format!(
                "list must be read, unread or undelivered: {v:?}"
            ))
            .into());
        }
    };
    let after = int(&params, "cursor", Some(-1))?;
    let limit = match params.get("limit").map(str::trim) {
        None | Some("") => 100,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIST).contains(n))
            .ok_or_else(|| ApiError::param(format!("limit must be 1 to {MAX_LIST}: {v:?}")))?,
    };
    let not_found = || ApiError::new(Code::NotFound, format!("msgid {msgid} not found"));
    let m = s
        .store
        .message(app.id, msgid)
        .await?
        .filter(|m| m.kind != MsgKind::Recall)
        .ok_or_else(not_found)?;
    let audience: RoaringBitmap = match m.kind {
        MsgKind::P2p => {
            let ix = s.indexes.get(app.id).await?;
            let o = m.to.as_deref().and_then(|to| ix.read().ordinal_of(to));
            o.into_iter().collect()
        }
        _ => s
            .audiences
            .get(s.store.as_ref(), app.id, msgid)
            .await?
            .map(|b| (*b).clone())
            .unwrap_or_default(),
    };
    // Reports still in memory count too.
    s.tracker.flush().await?;
    let mut delivered: RoaringBitmap = s
        .store
        .delivered(app.id, msgid)
        .await?
        .into_iter()
        .collect();
    delivered &= &audience;
    let mut read = match s.store.readers(app.id, msgid).await? {
        Some(blob) => audience::decode(&blob).map_err(|e| ApiError::internal(e.to_string()))?,
        None => RoaringBitmap::new(),
    };
    read &= &audience;
    // A reader has it, whatever its cursor says.
    delivered |= &read;
    let mut data = json!({
        "msgid": msgid,
        "recipients": audience.len(),
        "delivered": delivered.len(),
        "read": read.len(),
    });
    if let Some(which) = list {
        let set = match which.as_str() {
            "read" => read,
            "unread" => &audience - &read,
            _ => &audience - &delivered,
        };
        let start = u32::try_from(after + 1).unwrap_or(0);
        let page: Vec<u32> = set.iter().filter(|&o| o >= start).take(limit + 1).collect();
        let more = page.len() > limit;
        let page = &page[..page.len().min(limit)];
        let accids = s.store.accids_of(app.id, page.to_vec()).await?;
        data["list"] = json!(which);
        data["accids"] = json!(accids.iter().map(|(_, a)| a).collect::<Vec<_>>());
        data["cursor"] = json!(if more {
            page.last().map_or(-1, |&o| i64::from(o))
        } else {
            -1
        });
    }
    ok(json!({ "data": data }))
}

/// `msg/markReadMsg`: NIM's point-to-point read receipt sent by the app server: `from` read the
/// message `to` sent them, named by `msgidClient` (or by qunfa's `msgid`).
pub async fn mark_read_msg(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let reader = params.accid("from")?;
    let sender = params.accid("to")?;
    let ix = s.indexes.get(app.id).await?;
    let ordinal = ix
        .read()
        .ordinal_of(reader.as_str())
        .ok_or_else(|| ApiError::param(format!("{reader} not register")))?;
    let m = match (
        params.get("msgidClient").filter(|v| !v.is_empty()),
        params.get("msgid").filter(|v| !v.is_empty()),
    ) {
        (Some(client), _) => s.store.message_by_client(app.id, client).await?,
        (None, Some(_)) => {
            s.store
                .message(app.id, int(&params, "msgid", None)?)
                .await?
        }
        (None, None) => return Err(ApiError::missing("msgidClient").into()),
    };
    let m = m
        .filter(|m| {
            m.kind == MsgKind::P2p
                && m.from == sender.as_str()
                && m.to.as_deref() == Some(reader.as_str())
        })
        .ok_or_else(|| {
            ApiError::new(
                Code::NotFound,
                "message not found: check from, to and msgidClient",
            )
        })?;
    crate::gateway::session::record_read(&s, app.id, ordinal, &reader, m.msgid).await?;
    ok(json!({"data": {"timestamp": s.now_ms()}}))
}
