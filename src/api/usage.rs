//! Usage reports for the Credits page: the last days' spend and the per-call history.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::money::Micros;

/// One UTC day of usage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaySummary {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Taken from credits.
    pub cost: Micros,
    pub requests: i64,
    /// The provider price of calls paid with the person's own key (not credit spend).
    pub own_key_cost: Micros,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageSummary {
    /// Oldest first, every day of the period.
    pub days: Vec<DaySummary>,
    pub total: Micros,
    pub requests: i64,
}

/// One metered call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsageRecord {
    pub id: String,
    pub date: String,
    pub created_at_ms: i64,
    /// `tollgate` (routed through this platform, paid with credits), `fal.ai` or
    /// `openrouter` (paid with the person's own key).
    pub route: String,
    /// The upstream provider: `fal` or `openrouter`.
    pub provider: String,
    pub model: String,
    pub operation: String,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    pub failure: Option<String>,
    /// `credits` or `own_key`.
    pub paid_with: String,
    pub cost_estimate: Micros,
    pub cost: Option<Micros>,
    pub charged: Micros,
    pub unit: String,
    pub units: f64,
}

/// Days and records the usage views offer.
pub const DAY_CHOICES: [u32; 4] = [7, 30, 90, 365];
pub const LIMIT_CHOICES: [u32; 4] = [20, 50, 100, 500];

#[server(endpoint = "usage_summary")]
pub async fn get_usage_summary(days: String) -> Result<UsageSummary, AppError> {
    use crate::server::auth::guard;
    guard::respond(
        async {
            let (state, user) = guard::require_user().await?;
            let max = u64::from(crate::server::usage_report::MAX_DAYS);
            let days = super::whole_number("days", &days, 1..=max)? as u32;
            let now = crate::server::installation::now_ms();
            crate::server::usage_report::summary(&state.db, &user.id, days, now).await
        }
        .await,
    )
}

#[server(endpoint = "usage_history")]
pub async fn get_usage_history(limit: String, days: String) -> Result<Vec<UsageRecord>, AppError> {
    use crate::server::auth::guard;
    use crate::server::usage_report::{MAX_DAYS, MAX_HISTORY, history};
    guard::respond(
        async {
            let (state, user) = guard::require_user().await?;
            let limit = super::whole_number("limit", &limit, 1..=u64::from(MAX_HISTORY))? as u32;
            let days = super::whole_number("days", &days, 1..=u64::from(MAX_DAYS))? as u32;
            history(&state.db, &user.id, limit, days, crate::server::installation::now_ms()).await
        }
        .await,
    )
}
