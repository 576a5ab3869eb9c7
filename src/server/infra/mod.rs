//! Infrastructure every layer may use: settings, the database, shared state, caches,
//! crypto helpers, telemetry and this installation's identity.

pub mod cache;
pub mod cipher;
pub mod config;
pub mod crypto;
pub mod db;
pub mod event_bus;
pub mod group_commit;
pub mod installation;
pub mod instance;
pub mod state;
pub mod telemetry;
