//! Facts about the running service, for the home page, the status page and the header.
//!
//! These functions are deliberately public (no sign-in): they reveal nothing about any
//! account, secret or setting beyond what the pages show anyway (prices are the catalog's,
//! not anyone's own).

use crate::shared::error::AppError;
use leptos::prelude::*;

pub use crate::shared::dto::status::*;

#[server(endpoint = "site_info")]
pub async fn get_site_info() -> Result<SiteInfo, AppError> {
    use crate::server::infra::state::AppState;
    let state = AppState::from_context()?;
    Ok(SiteInfo { sandbox: state.config.sandbox, version: env!("CARGO_PKG_VERSION").to_string() })
}

/// What the home page tells a visitor about prices and how to start.
#[server(endpoint = "front_door")]
pub async fn get_front_door() -> Result<FrontDoor, AppError> {
    use crate::server::infra::state::AppState;
    let state = AppState::from_context()?;
    Ok(FrontDoor {
        signup_credit: state.config.signup_credit,
        purchase_min: state.config.purchase_min,
        bonus_threshold: state.config.purchase_bonus_threshold,
        bonus_percent: state.config.purchase_bonus_percent,
        prices: crate::server::services::studio::price_highlights(&state),
    })
}

#[server(endpoint = "service_status")]
pub async fn service_status() -> Result<StatusReport, AppError> {
    use crate::server::infra::state::AppState;
    let state = AppState::from_context()?;
    let started = std::time::Instant::now();
    let schema_version = state.db.schema_version().await.map_err(|e| AppError::internal("status check", e))?;
    let latency = started.elapsed();
    Ok(StatusReport {
        version: env!("CARGO_PKG_VERSION").to_string(),
        database: state.db.backend().label().to_string(),
        schema_version,
        database_latency_micros: u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
        uptime_secs: state.started_at.elapsed().as_secs(),
        sandbox: state.config.sandbox,
    })
}
