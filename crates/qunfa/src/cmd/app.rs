//! `qunfa app create|list|disable|enable`: straight on the local data directory, so they work
//! with or without a running server (which picks changes up within `api.app_refresh_ms`).

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
    }
    Ok(ExitCode::SUCCESS)
}
