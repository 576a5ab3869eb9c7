//! The `tollgate` command line.

mod admin;
pub mod client;
mod gifts;
mod prices;
mod serve;
mod webhooks;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use gifts::GiftCodesCommand;
pub use prices::PricesCommand;

use crate::server::infra::config::Config;
use crate::server::infra::db::Db;
use crate::server::web::http::WebApp;

/// Exit status for settings that cannot be used (the same clap uses for bad arguments).
pub const EXIT_BAD_SETTINGS: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "tollgate",
    version,
    about = "Tollgate: prepaid credits and metered billing for AI generation apps",
    long_about = "Tollgate: prepaid credits and metered billing for AI generation apps.\n\n\
        Settings are read from Leptos.toml, then .env, then TOLLGATE_* environment variables \
        (for example TOLLGATE_DATABASE_URL). With no command, `serve` runs."
)]
pub struct Cli {
    /// Settings file to read [default: Leptos.toml in the working directory, if present]
    #[arg(long, short = 'c', global = true, env = "TOLLGATE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Run the web app, its server functions and the JSON API (the default).
    ///
    /// Creates and migrates the database first. Stops gracefully on Ctrl-C or SIGTERM:
    /// requests in flight finish, new ones are refused.
    Serve,
    /// Create the database if needed, apply pending migrations, and exit.
    ///
    /// Safe to run while other instances are serving, and safe to run twice.
    Migrate,
    /// Check the settings and print the values in effect, with passwords hidden.
    Config,
    /// Administrative tasks.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Log in to a Tollgate server: checks your API token and stores it with the address.
    ///
    /// The token is read from TOLLGATE_TOKEN or standard input (never from the command
    /// line). Kept in ~/.config/tollgate/cli.json, readable only by you.
    Login {
        /// The server, e.g. https://tollgate.example.com [default: TOLLGATE_URL]
        #[arg(long)]
        url: Option<String>,
        /// Answer in JSON.
        #[arg(long)]
        json: bool,
    },
    /// Your balance and recent purchases; `billing buy` adds credits.
    Billing {
        #[command(subcommand)]
        command: Option<crate::server::cli::client::BillingCommand>,
        /// Answer in JSON.
        #[arg(long, global = true)]
        json: bool,
    },
    /// Your balance and spend per day; `usage history` lists each call.
    Usage {
        #[command(subcommand)]
        command: Option<crate::server::cli::client::UsageCommand>,
        /// How many days, up to today.
        #[arg(long, default_value_t = 7)]
        days: u32,
        /// Answer in JSON.
        #[arg(long, global = true)]
        json: bool,
    },
    /// The budgets on your API tokens; `budgets set --usd 5 --period day` limits the
    /// token in use.
    Budgets {
        #[command(subcommand)]
        command: Option<crate::server::cli::client::BudgetsCommand>,
        /// Answer in JSON.
        #[arg(long, global = true)]
        json: bool,
    },
    /// Your monthly invoices (postpaid accounts); --id shows one with its lines.
    Invoices {
        /// An invoice's id (inv_...), to show its lines.
        #[arg(long)]
        id: Option<String>,
        /// Answer in JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run a model through the gateway: TOLLGATE_MAX_USD_PER_RUN caps this shell's
    /// spend (one run per shell, or TOLLGATE_RUN_ID), TOLLGATE_FAL_KEY pays with your
    /// own fal key instead of credits.
    Run {
        /// e.g. fal-ai/flux/schnell
        endpoint: String,
        /// The provider input: JSON, @file, or - for standard input.
        #[arg(long)]
        input: String,
        /// Only price it and say who would pay.
        #[arg(long)]
        dry_run: bool,
        /// Answer in JSON.
        #[arg(long)]
        json: bool,
    },
}

impl Command {
    /// A command that talks to a server over its API and needs no settings of its own.
    pub fn is_client(&self) -> bool {
        matches!(
            self,
            Self::Login { .. }
                | Self::Billing { .. }
                | Self::Usage { .. }
                | Self::Run { .. }
                | Self::Invoices { .. }
                | Self::Budgets { .. }
        )
    }
}

/// Runs a client command (see [`Command::is_client`]).
pub async fn run_client(command: Command) -> ExitCode {
    use crate::server::cli::client;
    match command {
        Command::Login { url, json } => client::login(url, json).await,
        Command::Billing { command, json } => client::billing(command, json).await,
        Command::Usage { command, days, json } => client::usage(command, days, json).await,
        Command::Run { endpoint, input, dry_run, json } => client::run(endpoint, input, dry_run, json).await,
        Command::Invoices { id, json } => client::invoices(id, json).await,
        Command::Budgets { command, json } => client::budgets(command, json).await,
        _ => ExitCode::from(client::exit::USAGE),
    }
}

#[derive(Debug, Clone, Subcommand)]
pub enum AdminCommand {
    /// Check every ledger invariant and report any that fails (exit status 1).
    ///
    /// Books sum to zero; each wallet's balance equals its transfers and its credit lots;
    /// no wallet has negative available funds; reserved funds equal open holds; captured
    /// holds match their usage transfers. Read-only, safe while serving.
    Audit,
    /// Make an account an administrator, creating it if there is none with this email.
    ///
    /// A new account's password is read from standard input (one line), so it never
    /// appears in the shell history or the process list.
    CreateAdmin {
        /// The account's email address.
        #[arg(long)]
        email: String,
    },
    /// Gift codes.
    GiftCodes {
        #[command(subcommand)]
        command: GiftCodesCommand,
    },
    /// Custom pricing: an account's own price for an endpoint.
    Prices {
        #[command(subcommand)]
        command: PricesCommand,
    },
    /// Refund a purchase through Stripe (or the sandbox). The credits are taken back when
    /// Stripe's refund event arrives; what was already spent becomes owed.
    Refund {
        /// The purchase's checkout session (cs_...) or Stripe payment (pi_...).
        #[arg(long)]
        payment: String,
        /// How much to refund, in dollars [default: all that is left].
        #[arg(long)]
        amount_usd: Option<String>,
    },
    /// Prepaid or postpaid: a postpaid account may spend past its credits, down to its
    /// credit limit, and is billed monthly.
    BillingMode {
        #[command(subcommand)]
        command: BillingModeCommand,
    },
    /// Monthly invoices for postpaid accounts.
    Invoices {
        #[command(subcommand)]
        command: InvoicesCommand,
    },
    /// Webhooks: endpoints that receive money events, signed, and their delivery log.
    Webhooks {
        #[command(subcommand)]
        command: WebhooksCommand,
    },
    /// Calls a wallet may have going at once: by what its buyers paid
    /// (`calls_in_flight_tiers`), or set here for one wallet.
    CallsInFlight {
        #[command(subcommand)]
        command: InFlightCommand,
    },
}

/// A wallet named on the command line: a person's by email, or a team's by id.
#[derive(Debug, Clone, clap::Args)]
pub struct WalletArg {
    /// The person's email address (their own wallet).
    #[arg(long, conflicts_with = "team", required_unless_present = "team")]
    pub email: Option<String>,
    /// The team's id (tm_...).
    #[arg(long)]
    pub team: Option<String>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum InFlightCommand {
    /// Calls going now, the limit and why.
    Show {
        #[command(flatten)]
        wallet: WalletArg,
    },
    /// Allow this many calls at once, whatever was paid.
    Set {
        #[command(flatten)]
        wallet: WalletArg,
        /// Calls at once (at least 1).
        #[arg(long)]
        max: u32,
    },
    /// Go back to the limit the purchases give.
    Clear {
        #[command(flatten)]
        wallet: WalletArg,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum WebhooksCommand {
    /// Register an endpoint; prints its id and its signing secret (shown once).
    Add {
        /// Where to POST events: an http(s) URL on a public address.
        #[arg(long)]
        url: String,
        /// Event kinds, comma-separated (e.g. usage.charged,balance.low), or * for all.
        #[arg(long)]
        events: String,
    },
    /// The endpoints in use.
    List,
    /// Stop sending to an endpoint; its pending deliveries are failed.
    Remove {
        /// The endpoint's id (we_...).
        #[arg(long)]
        id: String,
    },
    /// The newest deliveries, with their status and the receiver's last answer.
    Deliveries {
        /// Only this endpoint's (we_...).
        #[arg(long)]
        endpoint: Option<String>,
        /// How many [default: 50].
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Send a delivery again now (the receiver de-duplicates on the event id).
    Replay {
        /// The delivery's id (wd_...).
        #[arg(long)]
        delivery: String,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum InvoicesCommand {
    /// Make a month's invoices (once per account and month, however often it runs) and
    /// charge the saved cards for what is due. The server also runs it for the month just
    /// ended.
    Run {
        /// The month, like 2026-11 (UTC); it must have ended.
        #[arg(long)]
        month: String,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum BillingModeCommand {
    /// Switch an account: `--mode postpaid --credit-limit-usd 100`, or `--mode prepaid`.
    Set {
        /// The account's email address.
        #[arg(long)]
        email: String,
        /// `prepaid` or `postpaid`.
        #[arg(long)]
        mode: String,
        /// How far a postpaid account may spend on credit, in dollars.
        #[arg(long)]
        credit_limit_usd: Option<String>,
    },
}

/// Runs one command to completion and says how it went.
pub async fn run(command: Command, config: Config, web: WebApp) -> ExitCode {
    match command {
        Command::Serve => serve::serve(config, web).await,
        Command::Migrate => serve::migrate(config).await,
        Command::Config => {
            serve::print_config(&config);
            ExitCode::SUCCESS
        }
        Command::Admin { command: AdminCommand::Audit } => admin::audit(config).await,
        Command::Admin { command: AdminCommand::CreateAdmin { email } } => admin::create_admin(config, &email).await,
        Command::Admin {
            command:
                AdminCommand::GiftCodes { command: GiftCodesCommand::Create { amount, count, max_uses, expires, note } },
        } => gifts::create_gift_codes(config, &amount, count, max_uses, expires.as_deref(), note).await,
        Command::Admin { command: AdminCommand::Prices { command } } => prices::prices(config, command).await,
        Command::Admin { command: AdminCommand::Refund { payment, amount_usd } } => {
            admin::refund(config, &payment, amount_usd.as_deref()).await
        }
        Command::Admin {
            command: AdminCommand::BillingMode { command: BillingModeCommand::Set { email, mode, credit_limit_usd } },
        } => admin::billing_mode(config, &email, &mode, credit_limit_usd.as_deref()).await,
        Command::Admin { command: AdminCommand::Invoices { command: InvoicesCommand::Run { month } } } => {
            admin::run_invoices(config, &month).await
        }
        Command::Admin { command: AdminCommand::Webhooks { command } } => webhooks::webhooks(config, command).await,
        Command::Admin { command: AdminCommand::CallsInFlight { command } } => {
            admin::calls_in_flight(config, command).await
        }
        client @ (Command::Login { .. }
        | Command::Billing { .. }
        | Command::Usage { .. }
        | Command::Run { .. }
        | Command::Invoices { .. }
        | Command::Budgets { .. }) => run_client(client).await,
    }
}

/// The database for an administrative command, created and migrated if need be; a
/// failure is reported and becomes the exit code.
async fn open_db(config: &Config) -> Result<Db, ExitCode> {
    let db = Db::connect(&config.database, 2).await.map_err(|e| fail(&format!("database: {e}")))?;
    if let Err(e) = db.migrate().await {
        return Err(fail(&format!("database: {e}")));
    }
    Ok(db)
}

/// Reports a failure as the one line on standard error.
fn fail(message: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("tollgate: {message}");
    ExitCode::FAILURE
}
