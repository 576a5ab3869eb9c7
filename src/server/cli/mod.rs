//! The `tollgate` command line.

pub mod client;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::server::infra::config::Config;
use crate::server::infra::db::Db;
use crate::server::ledger::{Clock, Ledger};
use crate::server::web::app_server::{AppServer, shutdown_signal};
use crate::server::web::http::WebApp;
use crate::shared::endpoint::EndpointId;

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
        matches!(self, Self::Login { .. } | Self::Billing { .. } | Self::Usage { .. } | Self::Run { .. })
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
}

/// `--endpoint`: an endpoint id, checked as the API checks it.
fn endpoint_arg(raw: &str) -> Result<EndpointId, String> {
    EndpointId::parse(raw).map_err(|e| e.to_string())
}

#[derive(Debug, Clone, Subcommand)]
pub enum PricesCommand {
    /// Set an account's price for an endpoint, per the catalog's unit for it.
    Set {
        #[arg(long)]
        email: String,
        /// e.g. fal-ai/flux/dev
        #[arg(long, value_parser = endpoint_arg)]
        endpoint: EndpointId,
        /// Dollars per unit, e.g. 0.02
        #[arg(long)]
        usd: String,
    },
    /// Remove an account's own price: the catalog price applies again.
    Unset {
        #[arg(long)]
        email: String,
        #[arg(long, value_parser = endpoint_arg)]
        endpoint: EndpointId,
    },
    /// List an account's own prices beside the catalog's.
    List {
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum GiftCodesCommand {
    /// Make a batch of codes and print them as CSV (the only time they are shown).
    Create {
        /// What each code is worth, in dollars, e.g. 10 or 12.50.
        #[arg(long)]
        amount: String,
        /// How many codes to make.
        #[arg(long, default_value_t = 1)]
        count: u32,
        /// How many people can redeem each code.
        #[arg(long, default_value_t = 1)]
        max_uses: u32,
        /// Last day the codes can be redeemed (YYYY-MM-DD, UTC); they never expire without it.
        #[arg(long)]
        expires: Option<String>,
        /// A note for the admin list, e.g. the campaign.
        #[arg(long, default_value = "")]
        note: String,
    },
}

/// Runs one command to completion and says how it went.
pub async fn run(command: Command, config: Config, web: WebApp) -> ExitCode {
    match command {
        Command::Serve => serve(config, web).await,
        Command::Migrate => migrate(config).await,
        Command::Config => {
            print_config(&config);
            ExitCode::SUCCESS
        }
        Command::Admin { command: AdminCommand::Audit } => audit(config).await,
        Command::Admin { command: AdminCommand::CreateAdmin { email } } => create_admin(config, &email).await,
        Command::Admin {
            command:
                AdminCommand::GiftCodes { command: GiftCodesCommand::Create { amount, count, max_uses, expires, note } },
        } => create_gift_codes(config, &amount, count, max_uses, expires.as_deref(), note).await,
        Command::Admin { command: AdminCommand::Prices { command } } => prices(config, command).await,
        client @ (Command::Login { .. } | Command::Billing { .. } | Command::Usage { .. } | Command::Run { .. }) => {
            run_client(client).await
        }
    }
}

async fn prices(config: Config, command: PricesCommand) -> ExitCode {
    use crate::server::services::accounts::users;
    use crate::server::services::gateway::pricing;
    let catalog = match crate::server::web::app_server::load_catalog(&config) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let db = match open_db(&config).await {
        Ok(db) => db,
        Err(code) => return code,
    };
    let email = match &command {
        PricesCommand::Set { email, .. } | PricesCommand::Unset { email, .. } | PricesCommand::List { email } => {
            email.clone()
        }
    };
    let result = async {
        let user = users::find_by_email(&db, &users::normalize_email(&email)?)
            .await?
            .ok_or_else(|| crate::shared::error::AppError::not_found(format!("An account with the email {email}")))?;
        match &command {
            PricesCommand::Set { endpoint, usd, .. } => {
                let price = crate::shared::money::Micros::parse_positive(usd)
                    .map_err(|e| crate::shared::error::AppError::validation("usd", format!("--usd: {e}")))?;
                let listed = catalog.price(endpoint);
                pricing::set_account_price(&db, &user.id, endpoint, price, "cli").await?;
                let note = if listed.listed { "" } else { " (not in the catalog: billed per request)" };
                Ok(format!(
                    "{} now pays {} per {} for {endpoint} (catalog: {}){note}",
                    user.email,
                    price,
                    listed.unit.as_str(),
                    listed.unit_price
                ))
            }
            PricesCommand::Unset { endpoint, .. } => {
                if pricing::clear_account_price(&db, &user.id, endpoint).await? {
                    Ok(format!("{} pays the catalog price for {endpoint} again", user.email))
                } else {
                    Err(crate::shared::error::AppError::not_found(format!("A price of {} for {endpoint}", user.email)))
                }
            }
            PricesCommand::List { .. } => {
                let own = pricing::account_prices(&db, &user.id).await?;
                if own.is_empty() {
                    return Ok(format!("{} pays catalog prices for everything", user.email));
                }
                let mut out = String::from("endpoint_id,unit,account_price_usd,catalog_price_usd");
                for (endpoint, price) in own {
                    // A price stored before ids were checked may name no valid endpoint.
                    let (unit, listed) = match EndpointId::parse(&endpoint) {
                        Ok(id) => {
                            let listed = catalog.price(&id);
                            (listed.unit.as_str(), listed.unit_price.to_string())
                        }
                        Err(_) => ("", String::new()),
                    };
                    out.push_str(&format!(
                        "\n{endpoint},{unit},{},{}",
                        price.to_string().trim_start_matches('$'),
                        listed.trim_start_matches('$')
                    ));
                }
                Ok(out)
            }
        }
    }
    .await;
    db.close().await;
    match result {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&format!("prices: {e}")),
    }
}

async fn serve(config: Config, web: WebApp) -> ExitCode {
    // Listen for signals before anything else, so none is missed during start-up.
    let shutdown = shutdown_signal();
    let server = match AppServer::build(config, web).await {
        Ok(server) => server,
        Err(e) => return fail(&e),
    };
    match server.run_until(shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("server: {e}")),
    }
}

async fn migrate(config: Config) -> ExitCode {
    let db = match Db::connect(&config.database, 1).await {
        Ok(db) => db,
        Err(e) => return fail(&format!("database: {e}")),
    };
    let result = db.migrate().await;
    db.close().await;
    match result {
        Ok(report) => {
            println!(
                "{} database at {}: {} migration(s) applied now, {} before; schema version {}",
                db.backend().label(),
                config.database,
                report.applied_now,
                report.applied_before,
                report.latest_version
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(&format!("database: {e}")),
    }
}

async fn create_admin(config: Config, email: &str) -> ExitCode {
    use crate::server::services::accounts::users::{self, Role};
    let db = match open_db(&config).await {
        Ok(db) => db,
        Err(code) => return code,
    };
    let result = async {
        let email = users::normalize_email(email)?;
        if let Some(user) = users::find_by_email(&db, &email).await? {
            users::set_role(&db, &user.id, Role::Admin).await?;
            return Ok(format!("{email} is now an administrator"));
        }
        let mut password = String::new();
        std::io::stdin().read_line(&mut password).map_err(|e| {
            crate::shared::error::AppError::validation("password", format!("cannot read the password: {e}"))
        })?;
        let password = password.trim_end_matches(['\r', '\n']);
        users::create(&db, &email, password, Role::Admin, crate::shared::money::Micros::ZERO).await?;
        Ok::<_, crate::shared::error::AppError>(format!("created administrator {email}"))
    }
    .await;
    db.close().await;
    match result {
        Ok(message) => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&format!("create-admin: {e}")),
    }
}

async fn create_gift_codes(
    config: Config,
    amount: &str,
    count: u32,
    max_uses: u32,
    expires: Option<&str>,
    note: String,
) -> ExitCode {
    use crate::server::infra::installation::now_ms;
    use crate::server::services::gifts::{NewBatch, create_batch};
    let amount = match crate::shared::money::Micros::parse_positive(amount) {
        Ok(a) => a,
        Err(e) => return fail(&format!("--amount: {e}")),
    };
    let expires_at_ms = match expires.map(crate::shared::format::parse_utc_date) {
        None => None,
        // Valid through the whole of the last day.
        Some(Some(start)) => Some(start + 86_400_000),
        Some(None) => return fail(&"--expires: use a date like 2027-01-01"),
    };
    let key = match config.load_secret_key() {
        Ok(k) => k,
        Err(e) => return fail(&e),
    };
    let db = match open_db(&config).await {
        Ok(db) => db,
        Err(code) => return code,
    };
    let batch = NewBatch { amount, count, max_uses, expires_at_ms, note, created_by: "cli".into() };
    let made = create_batch(&db, &key, &batch, now_ms()).await;
    db.close().await;
    match made {
        Ok(codes) => {
            let expiry = expires.unwrap_or("");
            println!("code,amount_usd,max_uses,expires");
            for code in codes {
                println!("{code},{},{max_uses},{expiry}", amount.format().trim_start_matches('$').replace(',', ""));
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&format!("gift-codes: {e}")),
    }
}

async fn audit(config: Config) -> ExitCode {
    let db = match open_db(&config).await {
        Ok(db) => db,
        Err(code) => return code,
    };
    let report = match Ledger::new(db.clone(), Clock::System).await {
        Ok(ledger) => ledger.audit().await,
        Err(e) => Err(e),
    };
    db.close().await;
    match report {
        Ok(report) if report.is_clean() => {
            println!(
                "ledger audit: OK, {} checks passed ({} wallets, {} transfers)",
                report.checks_run, report.wallets, report.transfers
            );
            ExitCode::SUCCESS
        }
        Ok(report) => {
            println!("ledger audit: FAILED, {} problem(s):", report.findings.len());
            for f in &report.findings {
                println!("  [{}] {}", f.check, f.detail);
            }
            ExitCode::FAILURE
        }
        Err(e) => fail(&format!("ledger audit: {e}")),
    }
}

fn print_config(config: &Config) {
    let backend = if config.database.is_postgres() { "PostgreSQL" } else { "SQLite" };
    println!("site_addr                 {}", config.site_addr);
    println!("public_url                {}", config.public_url);
    println!("data_dir                  {}", config.data_dir.display());
    println!("database_url              {} ({backend})", config.database);
    println!("database_max_connections  {}", config.database_max_connections);
    println!("sandbox                   {}", config.sandbox);
    println!("log_format                {:?}", config.log_format);
    println!("log_level                 {}", config.log_level);
    println!("site_root                 {}", config.site_root.as_deref().unwrap_or("(Leptos default)"));
    println!("signup_credit_usd         {}", config.signup_credit);
    let expiry = config.signup_credit_expiry_days.map_or("never".to_string(), |d| format!("{d} days"));
    println!("signup_credit_expiry_days {expiry}");
    println!("session_idle_hours        {}", config.session_idle_hours);
    println!("session_max_days          {}", config.session_max_days);
    println!("low_balance_usd           {}", config.low_balance);
    println!("behind_proxy              {}", config.behind_proxy);
    let key = if config.secret_key.is_some() {
        "(set, hidden)".to_string()
    } else {
        format!("(kept in {})", config.data_dir.join("secret.key").display())
    };
    println!("secret_key                {key}");
    let master = if config.master_key.is_some() {
        "(set, hidden)".to_string()
    } else {
        format!("(kept in {})", config.data_dir.join("master.key").display())
    };
    println!("master_key                {master}");
    let base = |url: &Option<url::Url>, real: &str| match url {
        Some(u) => u.to_string(),
        None if config.sandbox => "(built-in sandbox)".to_string(),
        None => real.to_string(),
    };
    println!("fal_api_base              {}", base(&config.fal_api_base, "https://api.fal.ai/"));
    println!("openrouter_base           {}", base(&config.openrouter_base, "https://openrouter.ai/"));
    println!("fal_run_base              {}", base(&config.fal_run_base, "https://fal.run/"));
    println!("fal_queue_base            {}", base(&config.fal_queue_base, "https://queue.fal.run/"));
    println!(
        "fal_platform_key          {}",
        if config.fal_platform_key.is_some() { "(set, hidden)" } else { "(none)" }
    );
    let or_key = if config.openrouter_platform_key.is_some() { "(set, hidden)" } else { "(none)" };
    println!("openrouter_platform_key   {or_key}");
    let catalog = config.price_catalog.as_ref().map_or("(built-in)".to_string(), |p| p.display().to_string());
    println!("price_catalog             {catalog}");
    println!("unknown_endpoint_price_usd {}", config.unknown_endpoint_price);
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
