//! Charging a saved card without the person present (an auto top-up): one PaymentIntent,
//! confirmed at once, off session. The idempotency key names the attempt, so a retry of
//! the request (or a second instance making the same attempt) charges once.

use std::collections::HashMap;

use stripe::{
    Currency, CustomerId, PaymentIntent, PaymentIntentOffSession, PaymentIntentStatus, PaymentMethodId, StripeError,
};

use super::StripeApi;
use crate::shared::error::AppError;

/// What Stripe did with the charge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Charge {
    /// Paid, or on its way: the credits come with Stripe's `payment_intent.succeeded`.
    Accepted { payment_intent: String },
    /// The card was declined (or needs the person, which off session means the same).
    Declined { reason: String },
}

/// An off-session charge of `cents` to `card` of `customer`, tagged with our attempt
/// (`metadata`) so the webhook finds it.
pub async fn charge_saved_card(
    api: StripeApi<'_>,
    customer: &str,
    card: &str,
    cents: i64,
    idempotency_key: &str,
    metadata: HashMap<String, String>,
) -> Result<Charge, AppError> {
    let customer: CustomerId = super::stripe_id("cus", customer)
        .ok_or_else(|| AppError::internal("stripe top-up", "stored customer id is not a Stripe id"))?;
    let card: PaymentMethodId = super::stripe_id("pm", card)
        .ok_or_else(|| AppError::internal("stripe top-up", "stored card id is not a Stripe id"))?;
    let mut params = stripe::CreatePaymentIntent::new(cents, Currency::USD);
    params.customer = Some(customer);
    params.payment_method = Some(card);
    params.off_session = Some(PaymentIntentOffSession::Exists(true));
    params.confirm = Some(true);
    params.description = Some("Tollgate credits (auto top-up)");
    params.metadata = Some(metadata);
    match PaymentIntent::create(&api.client(Some(idempotency_key)), params).await {
        Ok(intent) => Ok(match intent.status {
            PaymentIntentStatus::Succeeded | PaymentIntentStatus::Processing => {
                Charge::Accepted { payment_intent: intent.id.to_string() }
            }
            _ => Charge::Declined {
                reason: intent
                    .last_payment_error
                    .and_then(|e| e.message)
                    .unwrap_or_else(|| "The card needs the cardholder to approve the payment.".into()),
            },
        }),
        // Stripe answers a declined off-session payment with 402 and a card error.
        Err(StripeError::Stripe(r)) if r.http_status == 402 => {
            Ok(Charge::Declined { reason: r.message.unwrap_or_else(|| "The card was declined.".into()) })
        }
        Err(e) => Err(super::refused("stripe top-up", e)),
    }
}
