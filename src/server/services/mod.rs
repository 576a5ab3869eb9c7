//! What the app does, callable from the web, the server functions and the CLI alike:
//! accounts, purchases (checkout, sandbox, settlement), payments (saved cards, auto
//! top-up), gifts, keys, credits, usage
//! reports, who pays (`billing`), the Studio, and the metering gateway.

pub mod accounts;
pub mod billing;
pub mod budgets;
pub mod credits;
pub mod email;
pub mod events;
pub mod gateway;
pub mod gifts;
pub mod keys;
pub mod notices;
pub mod payments;
pub mod purchases;
pub mod studio;
pub mod teams;
pub mod usage_report;
pub mod wallets;
pub mod webhooks;
