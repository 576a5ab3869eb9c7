//! Everything that only runs on the server: settings, database, HTTP wiring, services.

pub mod api_usage;
pub mod api_v1;
pub mod app_server;
pub mod auth;
pub mod billing;
pub mod cache;
pub mod cli;
pub mod client;
pub mod config;
pub mod credits;
pub mod crypto;
pub mod db;
pub mod gateway;
pub mod gifts;
pub mod http;
pub mod installation;
pub mod keys;
pub mod ledger;
pub mod oauth;
pub mod providers;
pub mod purchases;
pub mod state;
pub mod stripe;
pub mod stripe_checkout;
pub mod telemetry;
pub mod usage_report;
