//! Asking Stripe to refund a payment (all of it, or part). Stripe answers at once; the
//! credits move when its signed `charge.refunded` event arrives.

use stripe::{Client, CreateRefund, PaymentIntentId, Refund, RequestStrategy};

use crate::shared::error::AppError;

/// Refunds `cents` of `payment_intent`. `idempotency_key` makes a retried request the
/// same refund at Stripe. Returns Stripe's refund id.
pub async fn create_refund(
    api_base: &str,
    secret_key: &str,
    payment_intent: &str,
    cents: i64,
    idempotency_key: &str,
) -> Result<String, AppError> {
    let payment: PaymentIntentId = payment_intent
        .parse()
        .map_err(|_| AppError::validation("payment", "That is not a Stripe payment id (pi_...)."))?;
    let client =
        Client::from_url(api_base, secret_key).with_strategy(RequestStrategy::Idempotent(idempotency_key.to_string()));
    let mut params = CreateRefund::new();
    params.payment_intent = Some(payment);
    params.amount = Some(cents);
    let refund = Refund::create(&client, params).await.map_err(|e| AppError::internal("stripe refund", e))?;
    Ok(refund.id.to_string())
}
