//! `tollgate run`: one model call through the gateway, or its price with `--dry-run`.

use std::process::ExitCode;

use serde_json::Value;

use super::output::{dollars4, finish, print_json};
use super::transport::Client;
use super::{Failure, Outcome, env, exit};

/// `tollgate run ENDPOINT --input JSON [--dry-run]`.
pub async fn run(endpoint: String, input: String, dry_run: bool, json_mode: bool) -> ExitCode {
    finish(run_inner(endpoint, input, dry_run, json_mode).await)
}

pub(super) fn read_input(input: &str) -> Outcome<Value> {
    let text = if input == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|e| Failure::new(exit::USAGE, format!("--input: {e}")))?
    } else if let Some(path) = input.strip_prefix('@') {
        std::fs::read_to_string(path).map_err(|e| Failure::new(exit::USAGE, format!("--input: {path}: {e}")))?
    } else {
        input.to_string()
    };
    let value: Value =
        serde_json::from_str(&text).map_err(|e| Failure::new(exit::USAGE, format!("--input is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(Failure::new(exit::USAGE, "--input must be a JSON object, e.g. '{\"prompt\": \"a fox\"}'"));
    }
    Ok(value)
}

/// How many times a call is sent before giving up (the first time included).
const RETRIES: u32 = 5;

/// The run id the CLI session's calls share: `TOLLGATE_RUN_ID`, or one per shell.
fn session_run_id() -> String {
    env("TOLLGATE_RUN_ID").unwrap_or_else(|| {
        #[cfg(unix)]
        let parent = std::os::unix::process::parent_id();
        #[cfg(not(unix))]
        let parent = std::process::id();
        format!("cli-{parent}")
    })
}

async fn run_inner(endpoint: String, input: String, dry_run: bool, json_mode: bool) -> Outcome<()> {
    let input = read_input(&input)?;
    // The id becomes part of the request's path: only a plain model path is sent.
    let endpoint = crate::shared::endpoint::EndpointId::parse(endpoint.trim())
        .map_err(|e| Failure::new(exit::USAGE, e.to_string().to_lowercase().trim_end_matches('.')))?;
    let client = Client::from_settings()?;
    let mut path = format!("api/v1/run/{endpoint}");
    if dry_run {
        path.push_str("?dryRun=true");
    }
    // One id for the call and its retries: a retry gets the first call's answer, so a
    // dropped connection or a server restart never runs or charges the call twice.
    let request_id = uuid::Uuid::new_v4().to_string();
    let request = || {
        let mut request = client.http.post(client.url(&path)).json(&input).header("X-Request-Id", &request_id);
        if let Some(cap) = env("TOLLGATE_MAX_USD_PER_RUN") {
            request = request.header("Tollgate-Max-USD-Per-Run", cap).header("Tollgate-Run-Id", session_run_id());
        }
        if let Some(key) = env("TOLLGATE_FAL_KEY") {
            request = request.header("Tollgate-Fal-Key", key);
        }
        request
    };
    let mut attempt = 0;
    let answer = loop {
        attempt += 1;
        match client.send(request()).await {
            // Still running (a retry's answer): ask again for its result.
            Ok((202, _)) if attempt < RETRIES => {}
            Ok((_, answer)) => break answer,
            Err(f) if f.code == exit::UNREACHABLE && attempt < RETRIES => {
                eprintln!("{}; trying again with the same request id.", f.message);
            }
            Err(f) => return Err(f),
        }
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    };
    if json_mode {
        print_json(&answer);
        return Ok(());
    }
    if dry_run {
        let paid = if answer["paid_with"] == "own_key" {
            "paid with your own key, no credits used"
        } else {
            "from your credits"
        };
        println!(
            "  Estimated cost: {} ({} {} at {} each), {paid}.",
            dollars4(answer["cost_estimate_micros"].as_i64().unwrap_or(0)),
            answer["units"].as_f64().unwrap_or(0.0),
            answer["unit"].as_str().unwrap_or(""),
            dollars4((answer["unit_price"].as_f64().unwrap_or(0.0) * 1_000_000.0).round() as i64),
        );
        return Ok(());
    }
    let meta = answer.get("metadata").cloned().unwrap_or(Value::Null);
    let mut output = answer.clone();
    if let Some(map) = output.as_object_mut() {
        map.remove("metadata");
    }
    print_json(&output);
    let cost = dollars4(meta["cost_micros"].as_i64().unwrap_or(0));
    let estimate = dollars4(meta["cost_estimate_micros"].as_i64().unwrap_or(0));
    let line = if meta["paid_with"] == "own_key" {
        format!("Cost {cost} at the provider's price, paid with your own key; no credits used.")
    } else {
        format!("Charged {} (estimated {estimate}).", dollars4(meta["charged_micros"].as_i64().unwrap_or(0)))
    };
    eprintln!("{line} Request {}.", meta["request_id"].as_str().unwrap_or("?"));
    Ok(())
}
