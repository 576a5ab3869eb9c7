//! Wire types for usage: shared by the browser, the server functions and the services.

use crate::shared::dto::keys::Provider;
use crate::shared::money::Micros;
use crate::shared::states::{CallFailure, CallStatus, PaidWith};
use serde::{Deserialize, Serialize};

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
    /// A team's spend over the period per member, most first (empty for a person).
    #[serde(default)]
    pub members: Vec<MemberSpend>,
}

/// What one member of a team spent from its wallet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberSpend {
    pub email: String,
    pub cost: Micros,
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
    /// The upstream provider.
    pub provider: Provider,
    pub model: String,
    /// The model's name, as the price catalog gives it.
    #[serde(default)]
    pub model_name: String,
    pub operation: String,
    pub status: CallStatus,
    pub failure: Option<CallFailure>,
    pub paid_with: PaidWith,
    pub cost_estimate: Micros,
    pub cost: Option<Micros>,
    pub charged: Micros,
    pub unit: String,
    pub units: f64,
    /// Who made the call, in a team's report.
    #[serde(default)]
    pub member: Option<String>,
}

/// Days and records the usage views offer.
pub const DAY_CHOICES: [u32; 4] = [7, 30, 90, 365];

pub const LIMIT_CHOICES: [u32; 4] = [20, 50, 100, 500];
