//! The sandbox that stands in for Stripe Checkout when no Stripe account is configured:
//! its page shows the quote, and paying sends the signed event Stripe would send.

use crate::server::infra::installation::now_ms;
use crate::server::infra::state::AppState;
use crate::server::services::accounts::users::User;
use crate::shared::dto::purchases::Quote;
use crate::shared::error::AppError;
use crate::shared::states::{CheckoutProvider, CheckoutStatus};

/// What the sandbox checkout page shows: the quote of an open sandbox session.
pub async fn sandbox_quote(state: &AppState, user: &User, session: &str) -> Result<Quote, AppError> {
    let (status, provider, quote) = super::own_session(state, user, session).await?;
    if provider != CheckoutProvider::Sandbox || !state.purchase_rules().sandbox {
        return Err(AppError::not_found("The checkout"));
    }
    if status != CheckoutStatus::Open {
        return Err(AppError::Conflict { message: "This checkout is already paid.".into() });
    }
    Ok(quote)
}

/// Pays a sandbox session: builds the event Stripe would send, signs it with the webhook
/// secret and hands it to the webhook handler, so the sandbox proves the real path.
pub async fn sandbox_pay(state: &AppState, user: &User, session: &str) -> Result<(), AppError> {
    let quote = sandbox_quote(state, user, session).await?;
    let cents = quote
        .pay
        .to_cents_exact()
        .ok_or_else(|| AppError::internal("sandbox payment", "amount in fractions of a cent"))?;
    let random = crate::server::infra::crypto::random_hex(12).map_err(|e| AppError::internal("sandbox payment", e))?;
    let event = serde_json::json!({
        "id": format!("evt_sandbox_{random}"),
        "type": "checkout.session.completed",
        "data": { "object": {
            "id": session,
            "object": "checkout.session",
            "mode": "payment",
            "payment_status": "paid",
            "amount_total": cents,
            "payment_intent": format!("pi_sandbox_{random}"),
            "currency": "usd",
            "client_reference_id": user.id,
        } }
    });
    deliver(state, &event).await
}

/// Signs `event` with the webhook secret, as Stripe would, and hands it to the webhook
/// handler: the sandbox's payments, refunds and top-ups take the real path.
pub async fn deliver(state: &AppState, event: &serde_json::Value) -> Result<(), AppError> {
    let body = serde_json::to_vec(event).map_err(|e| AppError::internal("sandbox payment", e))?;
    let now = now_ms();
    let header = crate::server::adapters::stripe::signature::sign(&state.webhook_secret(), now / 1000, &body);
    super::settle::handle(state, Some(&header), &body, now).await?;
    Ok(())
}
