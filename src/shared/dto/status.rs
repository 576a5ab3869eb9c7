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
