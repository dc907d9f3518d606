//! `qunfa app callbacks KEY [--resend [ID…]]` and the settings `qunfa app update` prints.

use std::process::ExitCode;

use qunfa_core::Store;
use qunfa_core::auth::App;
use qunfa_core::callback::{self, CallbackEvent};
use serde_json::json;

/// Dead letters listed, at most (the rest: `app/listDeadCallbacks` pages through them).
const LIST: usize = 1000;

fn settings_json(a: &App) -> serde_json::Value {
    json!({
        "appkey": a.appkey,
        "callback_url": a.callbacks.url,
        "callback_events": a.callbacks.events.as_list(),
        "pre_send_url": a.callbacks.pre_send_url,
    })
}

pub fn print_settings(a: &App, as_json: bool) {
    if as_json {
        println!("{}", settings_json(a));
        return;
    }
    let or_off = |s: &str| {
        if s.is_empty() {
            "(off)".to_owned()
        } else {
            s.to_owned()
        }
    };
    println!("app {} ({})", a.appkey, a.name);
    println!("  callback url:    {}", or_off(&a.callbacks.url));
    println!(
        "  callback events: {}",
        or_off(&a.callbacks.events.as_list())
    );
    println!("  pre-send url:    {}", or_off(&a.callbacks.pre_send_url));
}

fn dead_json(e: &CallbackEvent) -> serde_json::Value {
    json!({
        "event_id": e.id,
        "event_type": e.event_type,
        "msgid": e.msgid,
        "attempts": e.attempts,
        "created_ms": e.created_ms,
        "last_error": e.last_error,
        "body": callback::render(e),
    })
}

pub async fn run(
    store: &dyn Store,
    appkey: &str,
    resend: Option<Vec<i64>>,
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    let app = store
        .app_by_key(appkey)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no app with AppKey {appkey}"))?;
    if let Some(ids) = resend {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let n = store.resend_callbacks(app.id, ids, now).await?;
        if as_json {
            println!("{}", json!({"resent": n}));
        } else {
            println!("resent {n} dead letter(s); the server sends them within callbacks.poll_ms");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let sum = store.callback_summary(app.id).await?;
    let dead = store.dead_callbacks(app.id, 0, LIST).await?;
    if as_json {
        let mut v = settings_json(&app);
        v["pending"] = json!(sum.pending);
        v["dead"] = json!(sum.dead);
        v["next_ms"] = json!(sum.next_ms);
        v["dead_letters"] = dead.iter().map(dead_json).collect();
        println!("{v}");
        return Ok(ExitCode::SUCCESS);
    }
    print_settings(&app, false);
    println!("  pending events:  {}", sum.pending);
    println!("  dead letters:    {}", sum.dead);
    if dead.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    println!();
    println!(
        "{:>10}  {:<4}  {:>16}  {:>8}  LAST ERROR",
        "EVENT_ID", "TYPE", "MSGID", "ATTEMPTS"
    );
    for e in &dead {
        println!(
            "{:>10}  {:<4}  {:>16}  {:>8}  {}",
            e.id,
            e.event_type,
            e.msgid.map_or_else(|| "-".to_owned(), |m| m.to_string()),
            e.attempts,
            e.last_error.as_deref().unwrap_or("")
        );
    }
    if sum.dead as usize > dead.len() {
        println!("… and {} more", sum.dead as usize - dead.len());
    }
    println!("resend them with: qunfa app callbacks {appkey} --resend [EVENT_ID…]");
    Ok(ExitCode::SUCCESS)
}
