//! Wire types, one module per area: what crosses between the browser and the server, and
//! what the services hand to the server functions. Imported by the UI, the server
//! functions and the services alike, so none of them depends on another for its types.

pub mod auth;
pub mod budgets;
pub mod credits;
pub mod keys;
pub mod notices;
pub mod payments;
pub mod purchases;
pub mod status;
pub mod studio;
pub mod teams;
pub mod tokens;
pub mod usage;
pub mod webhooks;
