//! Stripe over its HTTP API with async-stripe: Checkout sessions (payment and setup mode),
//! customers, saved cards, off-session payments and refunds, and the signatures on its
//! webhooks. The API address is a setting, so tests (and a Stripe mock) stand in for
//! api.stripe.com.

pub mod cards;
pub mod checkout;
pub mod customers;
pub mod payment_intents;
pub mod refunds;
pub mod signature;

use stripe::{Client, RequestStrategy, StripeError};

use crate::shared::error::AppError;

/// Where Stripe is and the secret key to call it with.
#[derive(Clone, Copy)]
pub struct StripeApi<'a> {
    pub base: &'a str,
    pub secret_key: &'a str,
}

impl StripeApi<'_> {
    /// A client for one request; `idempotency_key` makes its retries the same request at
    /// Stripe. The client only ever talks to `base`: ids that go into paths are checked
    /// with [`stripe_id`] first.
    pub fn client(&self, idempotency_key: Option<&str>) -> Client {
        let client = Client::from_url(self.base, self.secret_key);
        match idempotency_key {
            Some(key) => client.with_strategy(RequestStrategy::Idempotent(key.to_string())),
            None => client,
        }
    }
}

/// An id Stripe gave (`pm_...`, `seti_...`, `cus_...`), checked to be only that before it
/// goes into a request path: the prefix, then letters, digits and underscores.
pub fn stripe_id<T: std::str::FromStr>(prefix: &str, raw: &str) -> Option<T> {
    let rest = raw.strip_prefix(prefix)?.strip_prefix('_')?;
    let plain = !rest.is_empty() && rest.len() <= 250 && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if plain { raw.parse().ok() } else { None }
}

/// What Stripe said about a request it refused, for the person or administrator who asked.
/// Authentication, rate-limit and server errors are ours to retry or fix: logged, never
/// shown.
pub fn refused(context: &str, e: StripeError) -> AppError {
    match e {
        // 401/403 are our key; 409 (an idempotent request still in flight) and 429 (rate
        // limited) pass if tried again: all of these are errors, not refusals.
        StripeError::Stripe(r)
            if (400..500).contains(&r.http_status) && !matches!(r.http_status, 401 | 403 | 409 | 429) =>
        {
            let said = r.message.unwrap_or_else(|| "the request was refused".into());
            tracing::warn!(context, status = r.http_status, message = %said, "stripe refused a request");
            AppError::Conflict { message: format!("Stripe refused this: {said}") }
        }
        other => AppError::internal(context, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_ids_with_their_prefix_go_into_a_path() {
        assert!(stripe_id::<stripe::PaymentMethodId>("pm", "pm_1AbC_x9").is_some());
        for bad in ["pm_", "pm_../../v1/charges", "seti_123", "pm_a/b", "pm_a?b=1", "pm_ä", "pm"] {
            assert!(stripe_id::<stripe::PaymentMethodId>("pm", bad).is_none(), "{bad}");
        }
    }
}
