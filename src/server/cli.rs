//! The `tollgate` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use super::app_server::{shutdown_signal, AppServer};
use super::config::Config;
use super::db::Db;

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
}

/// Runs one command to completion and says how it went.
pub async fn run(command: Command, config: Config) -> ExitCode {
    match command {
        Command::Serve => serve(config).await,
        Command::Migrate => migrate(config).await,
        Command::Config => {
            print_config(&config);
            ExitCode::SUCCESS
        }
    }
}

async fn serve(config: Config) -> ExitCode {
    // Listen for signals before anything else, so none is missed during start-up.
    let shutdown = shutdown_signal();
    let server = match AppServer::build(config).await {
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
}

/// Reports a failure as the one line on standard error.
fn fail(message: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("tollgate: {message}");
    ExitCode::FAILURE
}
