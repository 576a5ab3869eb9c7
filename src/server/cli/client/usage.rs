//! `tollgate usage` and `tollgate usage history`: spend per day, and each call.

use std::process::ExitCode;

use serde_json::Value;

use super::output::{dollars4, finish, money, print_json, warn_low};
use super::transport::Client;
use super::{Outcome, UsageCommand};

/// `tollgate usage` and `tollgate usage history`.
pub async fn usage(command: Option<UsageCommand>, days: u32, json_mode: bool) -> ExitCode {
    finish(usage_inner(command, days, json_mode).await)
}

async fn usage_inner(command: Option<UsageCommand>, days: u32, json_mode: bool) -> Outcome<()> {
    let client = Client::from_settings()?;
    match command {
        None => {
            let u = client.get(&format!("api/v1/usage?days={days}")).await?;
            let balance = u["balance"].clone();
            if json_mode {
                print_json(&u);
            } else {
                println!("  Balance: {}", money(balance["balance_micros"].as_i64().unwrap_or(0)));
                println!("\n  Last {days} days:\n");
                println!("  {:<12} {:<10} {}", "Date", "Cost", "Requests");
                for d in u["days"].as_array().cloned().unwrap_or_default() {
                    println!(
                        "  {:<12} {:<10} {}",
                        d["date"].as_str().unwrap_or(""),
                        dollars4(d["cost_micros"].as_i64().unwrap_or(0)),
                        d["requests"].as_i64().unwrap_or(0)
                    );
                }
                println!("\n  Total: {}", dollars4(u["total_micros"].as_i64().unwrap_or(0)));
            }
            warn_low(&balance, json_mode);
        }
        Some(UsageCommand::History { limit, days }) => {
            let h = client.get(&format!("api/v1/usage/history?limit={limit}&days={days}")).await?;
            let balance = client.get("api/v1/balance").await?;
            if json_mode {
                print_json(&h);
            } else {
                let records = h["records"].as_array().cloned().unwrap_or_default();
                if records.is_empty() {
                    println!("  No calls in the last {days} days.");
                } else {
                    println!("  {:<12} {:<10} {:<44} {:<17} {}", "Date", "Provider", "Model", "Operation", "Cost");
                    for r in records {
                        println!(
                            "  {:<12} {:<10} {:<44} {:<17} {}",
                            r["date"].as_str().unwrap_or(""),
                            r["route"].as_str().unwrap_or(""),
                            r["model"].as_str().unwrap_or(""),
                            r["operation"].as_str().unwrap_or(""),
                            record_cost(&r)
                        );
                    }
                }
            }
            warn_low(&balance, json_mode);
        }
    }
    Ok(())
}

/// A call's cost as the history shows it: what credits paid, the provider price of a
/// call the person's key paid, or that a failed call cost nothing.
fn record_cost(r: &Value) -> String {
    match (r["status"].as_str(), r["paid_with"].as_str()) {
        (Some("failed"), _) => format!("{} (failed)", dollars4(0)),
        (Some("running"), _) => format!("{} (running)", dollars4(r["cost_estimate"].as_i64().unwrap_or(0))),
        (_, Some("own_key")) => format!("{} (own key)", dollars4(r["cost"].as_i64().unwrap_or(0))),
        _ => dollars4(r["charged"].as_i64().unwrap_or(0)),
    }
}
