//! `qunfa serve`.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use qunfa_core::clock::SystemClock;
use qunfa_server::Server;
use tokio::net::TcpListener;

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
    let _log = crate::logging::init(&cfg.log)?;
    tracing::info!(
        version = qunfa_server::VERSION,
        commit = qunfa_server::COMMIT,
        "qunfa starting"
    );

    // Listen first: a port in use stops the start here, before anything (the first app, whose
    // secret is shown once) is created.
    let listener = TcpListener::bind(&cfg.listen)
        .await
        .with_context(|| format!("binding {} (listen)", cfg.listen))?;
    let metrics_listener = match cfg.metrics.listen.trim() {
        "" => None,
        addr => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding {addr} (metrics.listen)"))?,
        ),
    };
    let server = Arc::new(Server::open(cfg.clone(), Arc::new(SystemClock)).await?);
    let addr = listener.local_addr()?;
    if cfg.store.url.trim().is_empty() {
        super::record_listen(&cfg.data_dir, addr);
    }
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
    } else {
        let apps = server.state.services.store.list_apps().await?.len();
        tracing::info!(
            apps,
            "`qunfa app list` shows the apps' AppKeys and AppSecrets"
        );
    }
    let bus = if cfg.bus.url.trim().is_empty() {
        "in-process".to_owned()
    } else {
        cfg.bus.url.clone()
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let metrics_addr = match metrics_listener {
        Some(l) => {
            let at = l.local_addr()?.to_string();
            let mut stopped = stopped.clone();
            tokio::spawn(qunfa_server::serve_metrics(l, server.clone(), async move {
                let _ = stopped.wait_for(|s| *s).await;
            }));
            at
        }
        None => format!("{addr} (the API listener)"),
    };
    tracing::info!(listen = %addr, metrics = %metrics_addr, store = %server.store_describe, bus = %bus, "qunfa listening");
    drop(stopped);
    qunfa_server::run(listener, server.clone(), async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    })
    .await?;
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
