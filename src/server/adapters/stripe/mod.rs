//! Stripe: Checkout sessions over its HTTP API, and the signatures on its webhooks.

pub mod checkout;
pub mod signature;
