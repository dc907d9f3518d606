//! `qunfa bench team`: builds a team of `bench gen` accounts for the team benchmarks (`bench
//! send --endpoint teamMsg` / `markReadInfo`, `bench fanout --team`): the first account owns
//! it, the next `--members - 1` join at once (`team/create` with 199, then `team/add` by 200).
//! With `--readers R` it also sends one `markRead=1` message and has R members read it
//! (`msg/markReadTeamMsg`), for `getMarkReadInfo`. Prints the tid (and that msgid).
//!
//! A team past 2,000 members needs the server started with `QUNFA_TEAMS__MAX_MEMBERS`, and
//! the setup needs QUNFA_RATE_LIMITS__ENABLED=false.

use std::time::Instant;

use anyhow::{Context, bail};
use qunfa_server::client::NimClient;
use serde_json::Value;

use crate::cmd::{Ctx, Target};

#[derive(clap::Args)]
pub struct TeamArgs {
    /// Members, the owner included: u0000000 (the owner), u0000001, …
    #[arg(long, default_value_t = 10)]
    members: usize,
    /// Members that read one markRead=1 message (0: none sent).
    #[arg(long, default_value_t = 0)]
    readers: usize,
    /// Member i is account i × stride (u0000000, u0000010, … with 10): a team scattered over
    /// the app's ordinals, as real teams are, rather than one dense run.
    #[arg(long, default_value_t = 1)]
    stride: usize,
    /// Accid prefix of the generated accounts.
    #[arg(long, default_value = "u")]
    prefix: String,
    /// Calls in flight while members read.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    #[command(flatten)]
    target: Target,
}

fn accid(prefix: &str, i: usize) -> String {
    format!("{prefix}{i:07}")
}

async fn call(nim: &NimClient, endpoint: &str, params: &[(&str, &str)]) -> anyhow::Result<Value> {
    let v = nim.call(endpoint, params).await?;
    if v["code"] != 200 {
        bail!("{endpoint} answered {v}");
    }
    Ok(v)
}

pub(super) async fn team(ctx: &Ctx, args: TeamArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.members >= 1, "--members must be at least 1");
    anyhow::ensure!(
        args.readers < args.members,
        "--readers must be below --members"
    );
    let nim = args.target.client(ctx).await?;
    let stride = args.stride.max(1);
    let member = |i: usize| accid(&args.prefix, i * stride);
    let owner = member(0);
    let limit = args.members.max(2).to_string();
    let started = Instant::now();
    let first: Vec<String> = (1..args.members.min(200)).map(member).collect();
    let members = serde_json::to_string(&first)?;
    let v = call(
        &nim,
        "team/create",
        &[
            ("tname", "bench"),
            ("owner", &owner),
            ("members", &members),
            ("msg", "bench"),
            ("magree", "0"),
            ("joinmode", "0"),
            ("teamMemberLimit", &limit),
        ],
    )
    .await?;
    let tid = v["tid"].as_i64().context("no tid")?.to_string();
    let mut next = 200;
    while next < args.members {
        let end = (next + 200).min(args.members);
        let batch: Vec<String> = (next..end).map(member).collect();
        let list = serde_json::to_string(&batch)?;
        call(
            &nim,
            "team/add",
            &[
                ("tid", &tid),
                ("owner", &owner),
                ("members", &list),
                ("magree", "0"),
                ("msg", "bench"),
            ],
        )
        .await?;
        next = end;
        if next % 10_000 == 0 {
            eprintln!(
                "  {next} members ({:.1} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    println!(
        "team {tid}: {} members ({:.1} s)",
        args.members,
        started.elapsed().as_secs_f64()
    );
    if args.readers > 0 {
        let v = call(
            &nim,
            "msg/sendMsg",
            &[
                ("from", &owner),
                ("ope", "1"),
                ("to", &tid),
                ("type", "0"),
                ("body", r#"{"msg":"read me"}"#),
                ("markRead", "1"),
            ],
        )
        .await?;
        let msgid = v["data"]["msgid"].as_i64().context("no msgid")?;
        let ids = format!("[{msgid}]");
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        let per = args.readers.div_ceil(args.concurrency.max(1));
        for w in 0..args.concurrency.max(1) {
            let (nim, tid, ids, prefix) =
                (nim.clone(), tid.clone(), ids.clone(), args.prefix.clone());
            let range = (1 + w * per)..(1 + ((w + 1) * per).min(args.readers));
            tasks.spawn(async move {
                for i in range {
                    let reader = accid(&prefix, i * stride);
                    call(
                        &nim,
                        "msg/markReadTeamMsg",
                        &[("accid", &reader), ("tid", &tid), ("msgids", &ids)],
                    )
                    .await?;
                }
                Ok::<_, anyhow::Error>(())
            });
        }
        while let Some(r) = tasks.join_next().await {
            r??;
        }
        println!(
            "message {msgid} from {owner}: read by {} members ({:.1} s)",
            args.readers,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
