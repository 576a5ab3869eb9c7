//! Usage reports for the Credits page: the last days' spend and the per-call history.

use crate::shared::error::AppError;
use leptos::prelude::*;

pub use crate::shared::dto::usage::*;

#[server(endpoint = "usage_summary")]
pub async fn get_usage_summary(days: String) -> Result<UsageSummary, AppError> {
    use crate::server::infra::installation::now_ms;
    use crate::server::services::usage_report::{MAX_DAYS, UsageOf, summary};
    crate::server::web::guard::acting(|state, acting| async move {
        let days = super::whole_number("days", &days, 1..=u64::from(MAX_DAYS))? as u32;
        summary(&state.db, UsageOf::of(&acting), days, now_ms()).await
    })
    .await
}

#[server(endpoint = "usage_history")]
pub async fn get_usage_history(limit: String, days: String) -> Result<Vec<UsageRecord>, AppError> {
    use crate::server::infra::installation::now_ms;
    use crate::server::services::usage_report::{MAX_DAYS, MAX_HISTORY, UsageOf, history};
    crate::server::web::guard::acting(|state, acting| async move {
        let limit = super::whole_number("limit", &limit, 1..=u64::from(MAX_HISTORY))? as u32;
        let days = super::whole_number("days", &days, 1..=u64::from(MAX_DAYS))? as u32;
        history(&state.db, &state.catalog, UsageOf::of(&acting), limit, days, now_ms()).await
    })
    .await
}
