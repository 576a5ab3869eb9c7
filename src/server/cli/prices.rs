//! `tollgate admin prices`: an account's own prices for endpoints, beside the catalog's.

use std::process::ExitCode;

use clap::Subcommand;

use super::{fail, open_db};
use crate::server::infra::config::Config;
use crate::server::infra::db::Db;
use crate::server::services::accounts::users::{self, User};
use crate::server::services::gateway::catalog::Catalog;
use crate::server::services::gateway::pricing;
use crate::shared::endpoint::EndpointId;
use crate::shared::error::AppError;

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

pub(super) async fn prices(config: Config, command: PricesCommand) -> ExitCode {
    let catalog = match crate::server::web::app_server::load_catalog(&config) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let db = match open_db(&config).await {
        Ok(db) => db,
        Err(code) => return code,
    };
    let result = apply(&db, &catalog, &command).await;
    db.close().await;
    match result {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&format!("prices: {e}")),
    }
}

/// Finds the account the command names and applies the command to it; the answer is
/// what to print.
async fn apply(db: &Db, catalog: &Catalog, command: &PricesCommand) -> Result<String, AppError> {
    let email = match command {
        PricesCommand::Set { email, .. } | PricesCommand::Unset { email, .. } | PricesCommand::List { email } => {
            email.clone()
        }
    };
    let user = users::find_by_email(db, &users::normalize_email(&email)?)
        .await?
        .ok_or_else(|| AppError::not_found(format!("An account with the email {email}")))?;
    match command {
        PricesCommand::Set { endpoint, usd, .. } => set(db, catalog, &user, endpoint, usd).await,
        PricesCommand::Unset { endpoint, .. } => unset(db, &user, endpoint).await,
        PricesCommand::List { .. } => list(db, catalog, &user).await,
    }
}

/// `prices set`: the account's own price for one endpoint.
async fn set(db: &Db, catalog: &Catalog, user: &User, endpoint: &EndpointId, usd: &str) -> Result<String, AppError> {
    let price = crate::shared::money::Micros::parse_positive(usd)
        .map_err(|e| AppError::validation("usd", format!("--usd: {e}")))?;
    let listed = catalog.price(endpoint);
    pricing::set_account_price(db, &user.id, endpoint, price, "cli").await?;
    let note = if listed.listed { "" } else { " (not in the catalog: billed per request)" };
    Ok(format!(
        "{} now pays {} per {} for {endpoint} (catalog: {}){note}",
        user.email,
        price,
        listed.unit.as_str(),
        listed.unit_price
    ))
}

/// `prices unset`: back to the catalog price for one endpoint.
async fn unset(db: &Db, user: &User, endpoint: &EndpointId) -> Result<String, AppError> {
    if pricing::clear_account_price(db, &user.id, endpoint).await? {
        Ok(format!("{} pays the catalog price for {endpoint} again", user.email))
    } else {
        Err(AppError::not_found(format!("A price of {} for {endpoint}", user.email)))
    }
}

/// `prices list`: the account's own prices as CSV, beside the catalog's.
async fn list(db: &Db, catalog: &Catalog, user: &User) -> Result<String, AppError> {
    let own = pricing::account_prices(db, &user.id).await?;
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
