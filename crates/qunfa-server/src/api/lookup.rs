//! qunfa's read-only look-ups that NIM has no endpoint for, made for the web console but
//! signed and open to any app backend: `msg/queryOverview`, `dic/countAccounts`,
//! `user/search`. They sit in their own file, apart from the NIM groups they are named under.

use std::sync::Arc;

use axum::extract::State;
use qunfa_core::account::Accid;
use qunfa_service::lookup::Funnel;
use serde_json::{Map, Value, json};

use super::{Answer, Nim, ok};
use crate::state::AppState;

/// Most accounts one `user/search` page answers.
pub const MAX_SEARCH: usize = 100;
/// How far back an overview looks when `since` is not given.
const DAY_MS: i64 = 24 * 3600 * 1000;

fn funnel(f: &Funnel) -> Value {
    json!({"sends": f.sends, "recipients": f.recipients, "delivered": f.delivered, "read": f.read})
}

/// `msg/queryOverview`: accounts, the sessions on this node, and the delivery funnel of the
/// targeted sends and broadcasts since `since` (ms; default: the last 24 hours).
pub async fn query_overview(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let since = match params.get("since").map(str::trim) {
        None | Some("") => s.now_ms() - DAY_MS,
        Some(_) => params.non_negative("since")?,
    };
    let o = s.services.overview(app.id, since).await?;
    let mut sends = funnel(&o.sends);
    sends["markRead"] = funnel(&o.mark_read);
    ok(json!({"data": {
        "accounts": o.accounts,
        "blocked": o.blocked,
        "online": {"sessions": o.online.sessions, "accounts": o.online.accounts},
        "since": o.since_ms,
        "sends": sends,
        "truncated": o.truncated,
    }}))
}

/// `dic/countAccounts`: how many accounts a targeted send to everyone, to each area (its
/// sub-areas included) and to each enterprise type would reach.
pub async fn count_accounts(State(s): State<Arc<AppState>>, Nim { app, .. }: Nim) -> Answer {
    let c = s.services.count_accounts(app.id).await?;
    let map = |v: Vec<(String, u64)>| -> Map<String, Value> {
        v.into_iter().map(|(k, n)| (k, json!(n))).collect()
    };
    ok(json!({"data": {
        "accounts": c.all,
        "areas": map(c.areas),
        "enterptypes": map(c.types),
    }}))
}

/// `user/search`: accounts whose accid starts with `prefix`, in accid order, a page at a time
/// (`cursor`: the last accid of the previous page).
pub async fn search(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let prefix = match params.get("prefix").map(str::trim) {
        None | Some("") => String::new(),
        Some(p) => Accid::parse(p, "prefix")?.as_str().to_owned(),
    };
    let after = match params.get("cursor").map(str::trim) {
        None | Some("") => None,
        Some(c) => Some(Accid::parse(c, "cursor")?),
    };
    let limit = params.limit(Some(20), MAX_SEARCH)?;
    let mut found = s
        .services
        .search_accounts(app.id, &prefix, after.as_ref(), limit + 1)
        .await?;
    let more = found.len() > limit;
    found.truncate(limit);
    let cursor = match (more, found.last()) {
        (true, Some(a)) => a.accid.as_str().to_owned(),
        _ => String::new(),
    };
    let accounts: Vec<Value> = found
        .iter()
        .map(|a| {
            let mut v = super::user::uinfo(a);
            v["blocked"] = json!(a.blocked);
            v
        })
        .collect();
    ok(json!({"data": {"accounts": accounts, "cursor": cursor}}))
}
