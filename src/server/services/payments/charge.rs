//! Charging the saved card without the person present, for an auto top-up or an invoice:
//! at Stripe (one off-session PaymentIntent per idempotency key) or, for a sandbox card,
//! in the sandbox, which sends the signed `payment_intent.succeeded` Stripe would send
//! through the webhook handler. Either way the answer is Stripe's: accepted or declined.

use std::collections::HashMap;

use crate::server::adapters::stripe::payment_intents::{self, Charge};
use crate::server::infra::state::AppState;
use crate::shared::dto::payments::SandboxCard;
use crate::shared::error::AppError;

/// The saved card to charge.
pub struct CardToCharge<'a> {
    pub id: &'a str,
    pub sandbox: bool,
    /// The account's Stripe customer (a Stripe card only).
    pub customer: Option<&'a str>,
}

/// Charges `cents` to `card`, tagged with `metadata` so Stripe's event finds what it paid.
pub async fn charge_saved_card(
    state: &AppState,
    card: CardToCharge<'_>,
    cents: i64,
    idempotency_key: &str,
    metadata: HashMap<String, String>,
) -> Result<Charge, AppError> {
    if card.sandbox {
        if !state.purchase_rules().sandbox {
            // Saved while this server ran as a sandbox: it pays nothing real, so it is
            // never charged once Stripe is set up.
            let reason = "The saved card is a sandbox card, which cannot pay here. Save a real card.";
            return Ok(Charge::Declined { reason: reason.into() });
        }
        return sandbox_charge(state, card.id, cents, metadata).await;
    }
    let (Some(key), Some(customer)) = (super::stripe_key(state), card.customer) else {
        return Ok(Charge::Declined { reason: "The saved card can no longer be charged here.".into() });
    };
    payment_intents::charge_saved_card(super::api(state, &key), customer, card.id, cents, idempotency_key, metadata)
        .await
}

/// The sandbox's Stripe: a declining card declines; any other pays.
async fn sandbox_charge(
    state: &AppState,
    card_id: &str,
    cents: i64,
    metadata: HashMap<String, String>,
) -> Result<Charge, AppError> {
    let Some(card) = SandboxCard::find(card_id) else {
        return Ok(Charge::Declined { reason: "Unknown sandbox card.".into() });
    };
    if let Some(why) = card.declines {
        return Ok(Charge::Declined { reason: why.into() });
    }
    let random = crate::server::infra::crypto::random_hex(12).map_err(|e| AppError::internal("sandbox charge", e))?;
    let payment_intent = format!("pi_sandbox_{random}");
    let event = serde_json::json!({
        "id": format!("evt_sandbox_{random}"),
        "type": "payment_intent.succeeded",
        "data": { "object": {
            "id": payment_intent,
            "object": "payment_intent",
            "amount": cents,
            "amount_received": cents,
            "currency": "usd",
            "status": "succeeded",
            "metadata": metadata,
        } }
    });
    crate::server::services::purchases::sandbox::deliver(state, &event).await?;
    Ok(Charge::Accepted { payment_intent })
}
