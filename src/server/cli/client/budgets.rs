//! `tollgate budgets`: the budgets on your API tokens; `set` and `remove` change the
//! budget of the token in use (or `--token ID`), or with `--team` a team's budget (and
//! with `--member` one member's); `budgets team TEAM_ID` lists a team's budgets.

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
        #[arg(long, conflicts_with = "team")]
        token: Option<String>,
        /// A team's budget instead (its owners and admins): the team's id (tm_...).
        #[arg(long)]
        team: Option<String>,
        /// With --team: the budget of this member (email or user id) instead of the team's.
        #[arg(long, requires = "team")]
        member: Option<String>,
        /// The limit in dollars, e.g. 5 or 12.50.
        #[arg(long)]
        usd: String,
        /// day, week, month or total.
        #[arg(long)]
        period: String,
    },
    /// Remove a token's budget (or with --team, a team's or a member's).
    Remove {
        /// The token's id [default: the token this command uses]
        #[arg(long, conflicts_with = "team")]
        token: Option<String>,
        /// A team's budget instead: the team's id (tm_...).
        #[arg(long)]
        team: Option<String>,
        /// With --team: this member's budget (email or user id).
        #[arg(long, requires = "team")]
        member: Option<String>,
    },
    /// A team's budgets: the team's and its members' (a member sees their own).
    Team {
        /// The team's id (tm_...).
        team: String,
    },
}

/// Which budget a command names: a token's, a team's, or a team member's.
enum Target {
    Token(Option<String>),
    Team(String, Option<String>),
}

impl Target {
    /// Checked before anything is sent: each part becomes a path segment.
    fn read(token: Option<String>, team: Option<String>, member: Option<String>) -> Outcome<Self> {
        match team {
            Some(team) => Ok(Self::Team(team_id(&team)?, member.map(|m| member_id(&m)).transpose()?)),
            None => Ok(Self::Token(checked(token)?)),
        }
    }

    fn path(&self) -> String {
        match self {
            Self::Token(token) => path(token.clone()),
            Self::Team(team, None) => format!("api/v1/budgets/teams/{team}"),
            Self::Team(team, Some(member)) => format!("api/v1/budgets/teams/{team}/members/{member}"),
        }
    }
}

/// A team id: `tm_` and 24 hex digits.
fn team_id(raw: &str) -> Outcome<String> {
    let t = raw.trim();
    let ok = t.len() == 27 && t.starts_with("tm_") && t[3..].bytes().all(|b| b.is_ascii_hexdigit());
    if ok {
        Ok(t.to_string())
    } else {
        Err(Failure::new(exit::USAGE, "--team takes a team id (tm_ and 24 hex digits)"))
    }
}

/// A member as given: an email address or a user id, in characters a path may hold.
fn member_id(raw: &str) -> Outcome<String> {
    let m = raw.trim();
    let ok = !m.is_empty()
        && m.len() <= 254
        && m.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'@' | b'+'));
    if ok { Ok(m.to_string()) } else { Err(Failure::new(exit::USAGE, "--member takes an email address or a user id")) }
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
        Some(BudgetsCommand::Team { team }) => {
            let list = client.get(&Target::Team(team_id(&team)?, None).path()).await?;
            if json_mode {
                print_json(&list);
                return Ok(());
            }
            let budgets = list["budgets"].as_array().cloned().unwrap_or_default();
            if budgets.is_empty() {
                println!("  No budgets in this team: its members spend up to the team's balance.");
            }
            for b in &budgets {
                println!("  {}", describe(b));
            }
        }
        Some(BudgetsCommand::Set { token, team, member, usd, period }) => {
            // Ids are path segments: only their own characters go in.
            let body = json!({ "limit_usd": usd, "period": period });
            let url = client.url(&Target::read(token, team, member)?.path());
            let (_, budget) = client.send(client.http.put(url).json(&body)).await?;
            if json_mode { print_json(&budget) } else { println!("  Set: {}", describe(&budget)) }
        }
        Some(BudgetsCommand::Remove { token, team, member }) => {
            let url = client.url(&Target::read(token, team, member)?.path());
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
        "{} {}: {} {per}; {} spent, {} left",
        b["scope"].as_str().unwrap_or("token"),
        b["subject"].as_str().unwrap_or("?"),
        money("limit_micros"),
        money("spent_micros"),
        money("left_micros")
    )
}
