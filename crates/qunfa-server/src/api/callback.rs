//! The app's own callback settings and outbox (qunfa; NIM configures these in its console):
//! `app/setCallback`, `app/getCallback`, `app/listDeadCallbacks`, `app/resendCallbacks`. Signed
//! like every call, by the app's own credentials: an app sees and changes only its own.

use std::sync::Arc;

use axum::extract::State;
use qunfa_core::ApiError;
use qunfa_core::auth::App;
use qunfa_core::callback::{self, CallbackEvent, Events};
use qunfa_service::callbacks::{CallbackUpdate, MAX_DEAD_PAGE};
use serde_json::{Value, json};

use super::{Answer, Nim, ok};
use crate::state::AppState;

/// Most ids one `resendCallbacks` may name.
const MAX_RESEND_IDS: usize = 1000;

fn settings(a: &App) -> Value {
    json!({
        "url": a.callbacks.url,
        "events": a.callbacks.events.as_list(),
        "preSendUrl": a.callbacks.pre_send_url,
    })
}

fn event_view(e: &CallbackEvent) -> Value {
    json!({
        "eventId": e.id,
        "eventType": e.event_type,
        "msgid": e.msgid,
        "attempts": e.attempts,
        "createTime": e.created_ms,
        "lastError": e.last_error,
        "body": callback::render(e),
    })
}

/// `app/setCallback`: `url` (抄送; empty switches it off), `events` (`messages,recalls,logins`,
/// `all` or `none`) and `preSendUrl` (第三方回调; empty: off). Only the parameters given change.
pub async fn set_callback(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let events = match params.get("events") {
        Some(raw) => Some(Events::parse(raw, "events")?),
        None => None,
    };
    let up = CallbackUpdate {
        url: params.get("url").map(str::to_owned),
        events,
        pre_send_url: params.get("preSendUrl").map(str::to_owned),
    };
    if up.url.is_none() && up.events.is_none() && up.pre_send_url.is_none() {
        return Err(ApiError::param("give at least one of url, events, preSendUrl").into());
    }
    let a = s.services.set_callbacks(&app.appkey, up).await?;
    ok(json!({ "info": settings(&a) }))
}

/// `app/getCallback`: the settings and the outbox: events pending, dead letters, when the next
/// one is due.
pub async fn get_callback(State(s): State<Arc<AppState>>, Nim { app, .. }: Nim) -> Answer {
    let current = s
        .services
        .store
        .app_by_key(&app.appkey)
        .await?
        .unwrap_or_else(|| (*app).clone());
    let sum = s.services.callback_summary(app.id).await?;
    let mut info = settings(&current);
    info["pending"] = json!(sum.pending);
    info["dead"] = json!(sum.dead);
    info["nextTime"] = json!(sum.next_ms);
    ok(json!({ "info": info }))
}

/// `app/listDeadCallbacks`: dead letters after `after` (an eventId, default 0), at most `limit`
/// (default 100, up to 1,000), each with the exact body it is sent with.
pub async fn list_dead_callbacks(
    State(s): State<Arc<AppState>>,
    Nim { app, params }: Nim,
) -> Answer {
    let after = params.int("after")?.unwrap_or(0);
    let limit = params.limit(Some(100), MAX_DEAD_PAGE)?;
    let dead = s.services.dead_callbacks(app.id, after, limit).await?;
    let list: Vec<Value> = dead.iter().map(event_view).collect();
    ok(json!({ "size": list.len(), "list": list }))
}

/// `app/resendCallbacks`: dead letters sent again with a fresh series of attempts: those
/// whose eventIds `ids` lists (a JSON array of numbers), or all of them without `ids`.
pub async fn resend_callbacks(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let ids = match params.get("ids").filter(|v| !v.trim().is_empty()) {
        None => Vec::new(),
        Some(raw) => {
            let bad = || ApiError::param("ids must be a JSON array of eventIds (numbers)");
            let v: Vec<Value> = serde_json::from_str(raw).map_err(|_| bad())?;
            if v.is_empty() {
                return Err(bad().into());
            }
            if v.len() > MAX_RESEND_IDS {
                return Err(
                    ApiError::param(format!("ids has more than {MAX_RESEND_IDS} entries")).into(),
                );
            }
            v.iter()
                .map(|x| x.as_i64().filter(|n| *n > 0).ok_or_else(bad))
                .collect::<Result<Vec<i64>, ApiError>>()?
        }
    };
    let n = s.services.resend_callbacks(app.id, ids).await?;
    ok(json!({ "resent": n }))
}
