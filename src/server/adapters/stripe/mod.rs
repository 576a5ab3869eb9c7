//! Stripe: Checkout sessions over its HTTP API, and the signatures on its webhooks.

pub mod checkout;
pub mod refunds;
pub mod signature;
