//! `qunfa app create|list|disable|enable|update|callbacks`: straight on the store (the local
//! data directory, or --store), so they work with or without a running server (which picks
//! changes up within `api.app_refresh_ms`).

use std::process::ExitCode;

use clap::Subcommand;

use qunfa_core::auth::App;
use serde_json::json;

use super::Ctx;

#[derive(Subcommand)]
pub enum AppCmd {
    /// Create an app and print its AppKey and AppSecret.
    Create {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// List apps (secrets included: this reads the local data directory).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Disable an app: its calls answer 403 "app is forbidden".
    Disable {
        appkey: String,
        #[arg(long)]
        json: bool,
    },
    /// Enable a disabled app again.
    Enable {
        appkey: String,
        #[arg(long)]
        json: bool,
    },
    /// Change an app's callbacks: where its events are copied (抄送) and which kinds, and
    /// where its clients' sends are checked first (第三方回调).
    Update {
        appkey: String,
        /// The app server's URL for copied events (`""` switches copying off).
        #[arg(long, value_name = "URL")]
        callback_url: Option<String>,
        /// Which events to copy: messages, recalls, logins (comma-separated), all or none.
        #[arg(long, value_name = "LIST")]
        callback_events: Option<String>,
        /// The URL asked before a client's send is stored (`""` switches the check off).
        #[arg(long, value_name = "URL")]
        pre_send_url: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show an app's callback outbox: settings, pending events, dead letters.
    Callbacks {
        appkey: String,
        /// Send dead letters again (a fresh series of attempts): these eventIds, or all.
        #[arg(long, num_args = 0.., value_name = "EVENT_ID")]
        resend: Option<Vec<i64>>,
        #[arg(long)]
        json: bool,
    },
}

fn app_json(a: &App) -> serde_json::Value {
    json!({"appkey": a.appkey, "secret": a.secret, "name": a.name, "disabled": a.disabled, "created_ms": a.created_ms})
}

fn print_apps(apps: &[App], as_json: bool) {
    if as_json {
        let list: Vec<_> = apps.iter().map(app_json).collect();
        println!("{}", serde_json::Value::Array(list));
        return;
    }
    println!(
        "{:<32}  {:<32}  {:<8}  NAME",
        "APPKEY", "APPSECRET", "STATE"
    );
    for a in apps {
        let state = if a.disabled { "disabled" } else { "enabled" };
        println!(
            "{:<32}  {:<32}  {:<8}  {}",
            a.appkey, a.secret, state, a.name
        );
    }
}

pub async fn run(ctx: &Ctx, cmd: AppCmd) -> anyhow::Result<ExitCode> {
    let store = ctx.store(&[]).await?;
    match cmd {
        AppCmd::Create { name, json } => {
            anyhow::ensure!(!name.trim().is_empty(), "the app name must not be empty");
            let app = store.create_app(&name).await?;
            if json {
                println!("{}", app_json(&app));
            } else {
                println!("Created app \"{}\"", app.name);
                println!("  AppKey:    {}", app.appkey);
                println!("  AppSecret: {}", app.secret);
            }
        }
        AppCmd::List { json } => print_apps(&store.list_apps().await?, json),
        AppCmd::Disable { appkey, json } => {
            print_apps(&[store.set_app_disabled(&appkey, true).await?], json)
        }
        AppCmd::Enable { appkey, json } => {
            print_apps(&[store.set_app_disabled(&appkey, false).await?], json)
        }
        AppCmd::Update {
            appkey,
            callback_url,
            callback_events,
            pre_send_url,
            json,
        } => {
            let app = update(
                store.as_ref(),
                &appkey,
                callback_url,
                callback_events,
                pre_send_url,
            )
            .await?;
            super::app_callbacks::print_settings(&app, json);
        }
        AppCmd::Callbacks {
            appkey,
            resend,
            json,
        } => return super::app_callbacks::run(store.as_ref(), &appkey, resend, json).await,
    }
    Ok(ExitCode::SUCCESS)
}

async fn update(
    store: &dyn qunfa_core::Store,
    appkey: &str,
    url: Option<String>,
    events: Option<String>,
    pre_send_url: Option<String>,
) -> anyhow::Result<App> {
    use qunfa_core::callback::{Events, check_url};
    anyhow::ensure!(
        url.is_some() || events.is_some() || pre_send_url.is_some(),
        "give --callback-url, --callback-events or --pre-send-url"
    );
    let app = store
        .app_by_key(appkey)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no app with AppKey {appkey}"))?;
    let mut cb = app.callbacks;
    let refused = |e: qunfa_core::ApiError| anyhow::anyhow!("{}", e.desc);
    if let Some(u) = url {
        cb.url = check_url(&u, "--callback-url").map_err(refused)?;
    }
    if let Some(e) = events {
        cb.events = Events::parse(&e, "--callback-events").map_err(refused)?;
    }
    if let Some(u) = pre_send_url {
        cb.pre_send_url = check_url(&u, "--pre-send-url").map_err(refused)?;
    }
    Ok(store.set_app_callbacks(appkey, cb).await?)
}
