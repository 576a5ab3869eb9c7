//! `tollgate serve`, `tollgate migrate` and `tollgate config`: running the server, its
//! database migrations, and the settings in effect.

use std::process::ExitCode;

use super::fail;
use crate::server::infra::config::Config;
use crate::server::infra::db::Db;
use crate::server::web::app_server::{AppServer, shutdown_signal};
use crate::server::web::http::WebApp;

pub(super) async fn serve(config: Config, web: WebApp) -> ExitCode {
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

pub(super) async fn migrate(config: Config) -> ExitCode {
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

pub(super) fn print_config(config: &Config) {
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
    println!("webhooks_allow_private    {}", config.webhooks_allow_private);
    let smtp = config
        .smtp_url
        .as_ref()
        .map_or("(off: no email is sent)".to_string(), |u| format!("{} (password hidden)", u.server()));
    println!("smtp_url                  {smtp}");
    println!("smtp_from                 {}", config.smtp_from);
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
    println!("calls_in_flight_tiers     {}", config.calls_in_flight);
}
