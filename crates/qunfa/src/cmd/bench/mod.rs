//! `qunfa bench …`: benchmark data and load generators. They print numbers; they never pass or
//! fail anything. Results and the commands that produced them live in `docs/benchmarks.md`.

mod generate;
mod send;
mod team;
mod ws;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::Ctx;
use generate::generate;
use send::{SendArgs, send};
use team::{TeamArgs, team};

#[derive(Subcommand)]
pub enum BenchCmd {
    /// Write a synthetic app: DIR/areas.csv (34 provinces × 10 cities), DIR/enterptypes.csv
    /// (40 types) and DIR/users.csv. Province p01 holds ~10% of users, its city p01c01 ~5%,
    /// type t01 ~10%, so "one province", "one city and type" audiences have known sizes.
    Gen {
        #[arg(long, default_value_t = 1_000_000)]
        users: u64,
        #[arg(long, default_value = "bench-data")]
        dir: PathBuf,
    },
    /// A team of `bench gen` accounts for the team benchmarks (see `bench send --endpoint
    /// teamMsg`, `--endpoint markReadInfo`, `bench fanout --team`), optionally with one
    /// markRead=1 message read by --readers members. Prints the tid.
    Team(TeamArgs),
    /// Load generator: signed msg/sendMsgToAll or msg/sendMsg calls against a running server
    /// (users from `bench gen`, imported). Prints answers by code, throughput, client-observed
    /// latency and server time (the answers' `Server-Timing: app;dur=` header), p50/p90/p99/max.
    ///
    /// The server's rate limit (100 calls/s per app and API group by default) answers 416 to
    /// most of a benchmark's calls: run the server with QUNFA_RATE_LIMITS__ENABLED=false.
    Send(SendArgs),
    /// WebSocket fan-out: --clients N log in as `bench gen` accounts; then sendMsgToAll one at
    /// a time (time to first and last delivery), then back to back for --duration seconds
    /// (deliveries/s, nothing lost), and server memory per idle connection (--server-pid).
    Fanout(ws::FanoutArgs),
    /// One account misses --missed messages while offline, then reconnects: time until all
    /// arrived.
    Reconnect(ws::ReconnectArgs),
}

pub async fn run(ctx: &Ctx, cmd: BenchCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCmd::Gen { users, dir } => generate(users, &dir)?,
        BenchCmd::Send(args) => send(ctx, args).await?,
        BenchCmd::Team(args) => team(ctx, args).await?,
        BenchCmd::Fanout(args) => ws::fanout(ctx, args).await?,
        BenchCmd::Reconnect(args) => ws::reconnect(ctx, args).await?,
    }
    Ok(ExitCode::SUCCESS)
}
