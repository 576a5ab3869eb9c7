//! Stripe's signed events for saved cards and auto top-ups: a card saved through Checkout
//! in setup mode, an off-session payment that succeeded (its credits, once, through the
//! same settlement as a Checkout purchase) or failed (auto top-up pauses).

use serde_json::Value;

use super::settle::{Handled, WebhookError, internal};
use crate::server::infra::state::AppState;
use crate::server::services::payments::{attempts, cards};
use crate::shared::error::AppError;

/// Whether `event_id` was handled before.
async fn seen(state: &AppState, event_id: &str) -> Result<bool, WebhookError> {
    let found: Option<String> = sqlx::query_scalar("select id from stripe_event where id = $1")
        .bind(event_id)
        .fetch_optional(state.db.pool())
        .await
        .map_err(|e| internal(&e))?;
    Ok(found.is_some())
}

async fn remember(state: &AppState, event_id: &str, kind: &str, now_ms: i64) -> Result<(), WebhookError> {
    sqlx::query("insert into stripe_event (id, type, received_at_ms) values ($1, $2, $3) on conflict (id) do nothing")
        .bind(event_id)
        .bind(kind)
        .bind(now_ms)
        .execute(state.db.pool())
        .await
        .map_err(|e| internal(&e))?;
    Ok(())
}

fn refused(e: AppError) -> WebhookError {
    match e {
        AppError::Validation { message, .. } | AppError::Conflict { message } => WebhookError::Refused(message),
        other => internal(&other),
    }
}

/// `checkout.session.completed` in setup mode: the card becomes the account's card. A
/// replay (after the person removed the card, say) does not bring it back.
pub async fn card_saved(
    state: &AppState,
    event_id: &str,
    session: &Value,
    now_ms: i64,
) -> Result<Handled, WebhookError> {
    if seen(state, event_id).await? {
        return Ok(Handled::AlreadyDone);
    }
    cards::setup_completed(state, session).await.map_err(refused)?;
    remember(state, event_id, "checkout.session.completed", now_ms).await?;
    Ok(Handled::CardSaved)
}

/// Our attempt a payment belongs to, from the metadata it was made with.
fn attempt_of(payment: &Value) -> Option<&str> {
    payment["metadata"]["tollgate_session"].as_str().filter(|s| s.starts_with("topup_"))
}

/// `payment_intent.succeeded` for an auto top-up: its credits, once, checked against the
/// amount the attempt was priced at.
pub async fn succeeded(
    state: &AppState,
    event_id: &str,
    payment: &Value,
    now_ms: i64,
) -> Result<Handled, WebhookError> {
    if let Some(invoice) = payment["metadata"]["tollgate_invoice"].as_str() {
        return super::invoice_events::paid(state, event_id, invoice, payment, now_ms).await;
    }
    let Some(session) = attempt_of(payment) else { return Ok(Handled::Ignored) };
    let payment_intent = payment["id"].as_str().ok_or(WebhookError::Malformed)?;
    let cents = payment["amount_received"].as_i64().ok_or(WebhookError::Malformed)?;
    if payment["currency"].as_str().is_some_and(|c| !c.eq_ignore_ascii_case("usd")) {
        return Err(WebhookError::Malformed);
    }
    let outcome = super::settle::complete(
        state,
        (event_id, "payment_intent.succeeded"),
        session,
        Some(payment_intent),
        cents,
        now_ms,
    )
    .await;
    match &outcome {
        Ok(Handled::Credited { .. } | Handled::AlreadyDone) => {
            attempts::settled(&state.db, session).await.map_err(|e| internal(&e))?;
        }
        Err(e @ (WebhookError::UnknownSession(_) | WebhookError::AmountMismatch { .. })) => {
            tracing::error!(event_id, error = %e, "a paid auto top-up could not be credited; needs review");
        }
        _ => {}
    }
    outcome
}

/// `payment_intent.payment_failed` for an auto top-up: the attempt failed and auto
/// top-up pauses until the person acts.
pub async fn failed(state: &AppState, event_id: &str, payment: &Value, now_ms: i64) -> Result<Handled, WebhookError> {
    if let Some(invoice) = payment["metadata"]["tollgate_invoice"].as_str() {
        let reason = payment["last_payment_error"]["message"].as_str().unwrap_or("The card was declined.");
        crate::server::services::payments::invoice_payments::failed(state, invoice, reason)
            .await
            .map_err(|e| internal(&e))?;
        remember(state, event_id, "payment_intent.payment_failed", now_ms).await?;
        return Ok(Handled::AlreadyDone);
    }
    let Some(session) = attempt_of(payment) else { return Ok(Handled::Ignored) };
    let reason = payment["last_payment_error"]["message"].as_str().unwrap_or("The card was declined.");
    let recorded = attempts::declined(&state.db, session, reason).await.map_err(|e| internal(&e))?;
    remember(state, event_id, "payment_intent.payment_failed", now_ms).await?;
    Ok(if recorded { Handled::TopUpDeclined(reason.to_string()) } else { Handled::AlreadyDone })
}
