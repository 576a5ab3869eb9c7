//! One module per page.

pub mod admin;
pub mod auth;
pub mod buy;
pub mod credits;
pub mod home;
pub mod invoices;
pub mod not_found;
pub mod payments;
pub mod sandbox_oauth;
pub mod saved_card;
pub mod settings;
pub mod status;
pub mod studio;
pub mod tokens;
pub mod transactions;
pub mod usage;
pub mod webhooks;
