//! Asking Stripe to refund a payment (all of it, or part). Stripe answers at once; the
//! credits move when its signed `charge.refunded` event arrives.

use stripe::{CreateRefund, PaymentIntentId, Refund};

use super::StripeApi;
use crate::shared::error::AppError;

/// Refunds `cents` of `payment_intent`. `idempotency_key` makes a retried request the
/// same refund at Stripe. Returns Stripe's refund id. Stripe's refusal (more than is left,
/// a disputed charge) comes back as a conflict that says why.
pub async fn create_refund(
    api: StripeApi<'_>,
    payment_intent: &str,
    cents: i64,
    idempotency_key: &str,
) -> Result<String, AppError> {
    let payment: PaymentIntentId = super::stripe_id("pi", payment_intent)
        .ok_or_else(|| AppError::validation("payment", "That is not a Stripe payment id (pi_...)."))?;
    let mut params = CreateRefund::new();
    params.payment_intent = Some(payment);
    params.amount = Some(cents);
    let refund = Refund::create(&api.client(Some(idempotency_key)), params)
        .await
        .map_err(|e| super::refused("stripe refund", e))?;
    Ok(refund.id.to_string())
}
