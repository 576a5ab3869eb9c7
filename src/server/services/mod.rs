//! What the app does, callable from the web, the server functions and the CLI alike.

pub mod accounts;
pub mod billing;
pub mod credits;
pub mod gateway;
pub mod gifts;
pub mod keys;
pub mod purchases;
pub mod stripe;
pub mod usage_report;
