//! The `qunfa` binary: a thin layer of commands over the `qunfa-server` library.

mod cmd;
mod logging;

/// jemalloc, for what a server holding tens of thousands of connections does to an allocator:
/// a burst of fan-out allocates hundreds of megabytes of frames and queues for a moment, and
/// glibc's malloc keeps them (fragmented over its arenas) long after the burst. jemalloc with
/// background purging gives them back within seconds, and packs small allocations tighter.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "qunfa",
    version = qunfa_server::LONG_VERSION,
    about = "Self-hosted NIM-compatible messaging server for targeted mass messaging"
)]
struct Cli {
    /// TOML config file (see qunfa.example.toml).
    #[arg(long, global = true, env = "QUNFA_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory (overrides the config's `data_dir`).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Store URL: postgres://USER@HOST/DB (overrides `store.url`; default: SQLite in the data
    /// directory).
    #[arg(long, global = true, value_name = "URL")]
    store: Option<String>,
    /// Bus URL: nats://HOST:PORT (overrides `bus.url`; default: in-process).
    #[arg(long, global = true, value_name = "URL")]
    bus: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (embedded SQLite in the data directory, or --store / --bus for many nodes).
    Serve(cmd::serve::Args),
    /// Print the effective configuration (or, with --example, the documented example file).
    Config {
        #[arg(long)]
        example: bool,
    },
    /// Manage apps (tenants) in the store (the data directory, or --store); works while servers run.
    #[command(subcommand)]
    App(cmd::app::AppCmd),
    /// Sign and send one API call, print the JSON answer (exit 1 unless code 200).
    Call(cmd::call::Args),
    /// Import users, areas or enterprise types from CSV through the API.
    #[command(subcommand)]
    Import(cmd::import::ImportCmd),
    /// Copy this data directory's embedded database into PostgreSQL (ids kept; safe to re-run).
    Migrate(cmd::migrate::Args),
    /// Copy the embedded database to FILE, consistently, while the server runs or not.
    Backup(cmd::backup::BackupArgs),
    /// Bring a backup back into an empty data directory (checked before anything is written).
    Restore(cmd::backup::RestoreArgs),
    /// Log in to the WebSocket gateway as an account and print what it receives.
    Watch(cmd::watch::Args),
    /// Benchmarks and their data.
    #[command(subcommand)]
    Bench(cmd::bench::BenchCmd),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Before any HTTP client exists: reqwest's TLS takes rustls's process-wide provider.
    qunfa_server::tls::install();
    // Purge freed memory from background threads, so it goes back to the system after a burst
    // even while nothing else allocates.
    #[cfg(not(target_env = "msvc"))]
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        eprintln!("warning: cannot start jemalloc's background purging: {e}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let ctx = cmd::Ctx {
        config_file: cli.config,
        data_dir: cli.data_dir,
        store: cli.store,
        bus: cli.bus,
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => cmd::serve::run(&ctx, args).await,
            Command::Config { example } => cmd::print_config(&ctx, example),
            Command::App(c) => cmd::app::run(&ctx, c).await,
            Command::Call(args) => cmd::call::run(&ctx, args).await,
            Command::Import(c) => cmd::import::run(&ctx, c).await,
            Command::Watch(args) => cmd::watch::run(&ctx, args).await,
            Command::Migrate(args) => cmd::migrate::run(&ctx, args).await,
            Command::Backup(args) => cmd::backup::backup(&ctx, args).await,
            Command::Restore(args) => cmd::backup::restore(&ctx, args).await,
            Command::Bench(c) => cmd::bench::run(&ctx, c).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
