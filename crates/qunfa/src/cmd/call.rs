//! `qunfa call ENDPOINT key=value …`: one signed API call, answer printed as JSON.

use std::process::ExitCode;

use anyhow::Context;

use super::{Ctx, Target};

#[derive(clap::Args)]
pub struct Args {
    /// Endpoint, e.g. `user/create` (or `user/create.action`).
    endpoint: String,
    /// Parameters as key=value (a JSON value such as accids='["a","b"]' is passed as its text).
    params: Vec<String>,
    /// Send the parameters as a JSON object instead of a form (values that parse as JSON are
    /// sent as JSON values).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target: Target,
}

pub async fn run(ctx: &Ctx, args: Args) -> anyhow::Result<ExitCode> {
    let client = args.target.client(ctx).await?;
    let mut pairs = Vec::new();
    for p in &args.params {
        let (k, v) = p
            .split_once('=')
            .with_context(|| format!("parameter {p:?} is not key=value"))?;
        pairs.push((k.to_owned(), v.to_owned()));
    }
    let answer = if args.json {
        let obj: serde_json::Map<String, serde_json::Value> = pairs
            .into_iter()
            .map(|(k, v)| {
                let val = serde_json::from_str(&v).unwrap_or(serde_json::Value::String(v));
                (k, val)
            })
            .collect();
        client
            .call_json(&args.endpoint, &serde_json::Value::Object(obj))
            .await?
    } else {
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        client.call(&args.endpoint, &refs).await?
    };
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(if answer["code"] == 200 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
