//! Wire types for status: shared by the browser, the server functions and the services.

use serde::{Deserialize, Serialize};

/// What the header needs on every page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteInfo {
    /// Payments and providers are simulated.
    pub sandbox: bool,
    pub version: String,
}

/// The answer of the home page's status check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    pub version: String,
    /// "SQLite" or "PostgreSQL".
    pub database: String,
    pub schema_version: i64,
    /// Time for one round trip to the database.
    pub database_latency_micros: u64,
    pub uptime_secs: u64,
    pub sandbox: bool,
}

/// What the home page tells a visitor: what a new account starts with, how credits are
/// bought, and what generation costs (the cheapest listed model of each kind).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrontDoor {
    pub signup_credit: crate::shared::money::Micros,
    pub purchase_min: crate::shared::money::Micros,
    pub bonus_threshold: crate::shared::money::Micros,
    pub bonus_percent: u32,
    pub prices: Vec<PriceHighlight>,
}

/// "Images from $0.003 (FLUX.1 [schnell], per image)".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceHighlight {
    /// What is made: "Images", "Videos" ...
    pub what: String,
    /// The cheapest model's name, and what its price is per.
    pub model: String,
    pub unit: String,
    pub unit_price: crate::shared::money::Micros,
}
