//! `qunfa serve`.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use qunfa_core::clock::SystemClock;
use qunfa_server::Server;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use super::Ctx;

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on (overrides the config's `listen`).
    #[arg(long)]
    listen: Option<String>,
}

pub async fn run(ctx: &Ctx, args: Args) -> anyhow::Result<ExitCode> {
    let mut flags = Vec::new();
    if let Some(l) = args.listen {
        flags.push(("listen", toml::Value::String(l)));
    }
    let cfg = ctx.config(&flags)?;
    let filter =
        EnvFilter::try_new(&cfg.log).with_context(|| format!("bad log filter {:?}", cfg.log))?;
    tracing_subscriber::fmt().with_env_filter(filter).init();

    let server = Arc::new(Server::open(cfg.clone(), Arc::new(SystemClock)).await?);
    let listener = TcpListener::bind(&cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    if let Some(app) = &server.bootstrapped {
        println!(
            "Created the first app \"{}\". Keep these; the secret is not shown again.",
            app.name
        );
        println!("  AppKey:    {}", app.appkey);
        println!("  AppSecret: {}", app.secret);
        println!("For `qunfa call` from another directory:");
        println!(
            "  export QUNFA_URL=http://{addr} QUNFA_APPKEY={} QUNFA_APPSECRET={}",
            app.appkey, app.secret
        );
    }
    let bus = if cfg.bus.url.trim().is_empty() {
        "in-process".to_owned()
    } else {
        cfg.bus.url.clone()
    };
    tracing::info!(listen = %addr, store = %server.store_describe, bus = %bus, "qunfa listening");
    qunfa_server::run(listener, server.clone(), shutdown_signal()).await?;
    tracing::info!("qunfa stopped");
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: no new connections, finishing requests in flight");
}
