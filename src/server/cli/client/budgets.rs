//! `tollgate budgets`: the budgets on your API tokens; `set` and `remove` change the
//! budget of the token in use (or `--token ID`).

use std::process::ExitCode;

use clap::Subcommand;
use serde_json::{Value, json};

use super::output::{finish, print_json};
use super::transport::Client;
use super::{Failure, Outcome, exit};

#[derive(Subcommand, Debug, Clone)]
pub enum BudgetsCommand {
    /// Limit spending through a token: at most --usd per --period (day, week and month
    /// are UTC windows; total never resets).
    Set {
        /// The token's id [default: the token this command uses]
        #[arg(long)]
        token: Option<String>,
        /// The limit in dollars, e.g. 5 or 12.50.
        #[arg(long)]
        usd: String,
        /// day, week, month or total.
        #[arg(long)]
        period: String,
    },
    /// Remove a token's budget.
    Remove {
        /// The token's id [default: the token this command uses]
        #[arg(long)]
        token: Option<String>,
    },
}

pub async fn budgets(command: Option<BudgetsCommand>, json_mode: bool) -> ExitCode {
    finish(budgets_inner(command, json_mode).await)
}

fn path(token: Option<String>) -> String {
    format!("api/v1/budgets/tokens/{}", token.as_deref().map(str::trim).unwrap_or("current"))
}

async fn budgets_inner(command: Option<BudgetsCommand>, json_mode: bool) -> Outcome<()> {
    let client = Client::from_settings()?;
    match command {
        None => {
            let list = client.get("api/v1/budgets").await?;
            if json_mode {
                print_json(&list);
                return Ok(());
            }
            let budgets = list["budgets"].as_array().cloned().unwrap_or_default();
            if budgets.is_empty() {
                println!("  No budgets: spending through your tokens is limited only by your balance.");
            }
            for b in &budgets {
                println!("  {}", describe(b));
            }
        }
        Some(BudgetsCommand::Set { token, usd, period }) => {
            // A token id is a path segment: only its own characters go in.
            let body = json!({ "limit_usd": usd, "period": period });
            let url = client.url(&path(checked(token)?));
            let (_, budget) = client.send(client.http.put(url).json(&body)).await?;
            if json_mode { print_json(&budget) } else { println!("  Set: {}", describe(&budget)) }
        }
        Some(BudgetsCommand::Remove { token }) => {
            let url = client.url(&path(checked(token)?));
            let (_, answer) = client.send(client.http.delete(url)).await?;
            if json_mode { print_json(&answer) } else { println!("  Removed.") }
        }
    }
    Ok(())
}

/// A token id as given: letters, digits and dashes only (a UUID).
fn checked(token: Option<String>) -> Outcome<Option<String>> {
    match token {
        Some(t) if !t.trim().is_empty() && t.trim().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') => {
            Ok(Some(t.trim().to_string()))
        }
        Some(_) => Err(Failure::new(exit::USAGE, "--token takes a token id (letters, digits and dashes)")),
        None => Ok(None),
    }
}

fn describe(b: &Value) -> String {
    let money = |k: &str| format!("${:.4}", b[k].as_i64().unwrap_or(0) as f64 / 1e6);
    let period = b["period"].as_str().unwrap_or("");
    let per = if period == "total" { "in total".to_string() } else { format!("per {period} (UTC)") };
    format!(
        "token {}: {} {per}; {} spent, {} left",
        b["subject"].as_str().unwrap_or("?"),
        money("limit_micros"),
        money("spent_micros"),
        money("left_micros")
    )
}
