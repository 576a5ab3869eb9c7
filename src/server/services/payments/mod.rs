//! Paying without Checkout each time: a saved card ([`cards`]) and auto top-up
//! ([`auto_top_up`]), which charges that card off session when the balance runs low.
//! Credits still enter the ledger only through Stripe's signed events (see
//! `purchases::top_ups`); [`profile`] keeps the per-account state both share.

pub mod attempts;
pub mod auto_top_up;
pub mod cards;
pub mod charge;
pub mod invoice_payments;
pub mod invoices;
pub mod postpaid;
pub mod profile;

use crate::server::adapters::stripe::StripeApi;
use crate::server::infra::state::AppState;

/// The Stripe account's secret key, when one is configured: without it, cards are saved
/// and charged in the sandbox (when sandbox mode is on).
pub(crate) fn stripe_key(state: &AppState) -> Option<String> {
    state.config.stripe_secret_key.as_ref().map(|k| String::from_utf8_lossy(&k.0).into_owned())
}

/// Calls Stripe with `key` at the configured address.
pub(crate) fn api<'a>(state: &'a AppState, key: &'a str) -> StripeApi<'a> {
    StripeApi { base: state.config.stripe_api_base.as_str(), secret_key: key }
}
