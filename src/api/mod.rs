//! Server functions, grouped by the page that uses them. Each one is a public HTTP
//! endpoint and checks who is calling itself.

pub mod auth;
pub mod credits;
pub mod keys;
pub mod purchases;
pub mod status;
pub mod studio;
pub mod tokens;
pub mod usage;
