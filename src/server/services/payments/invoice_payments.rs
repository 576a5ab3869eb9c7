//! Asking for an invoice's payment: the saved card, charged off session for what is due,
//! once per attempt (the attempt's number is part of the idempotency key). The
//! invoice is paid when Stripe's signed `payment_intent.succeeded` arrives (see
//! `purchases::invoice_events`); a decline is recorded on the invoice.

use std::collections::HashMap;

use sqlx::Row;

use super::charge::{CardToCharge, charge_saved_card};
use super::profile;
use crate::server::adapters::stripe::payment_intents::Charge;
use crate::server::infra::db::db_err;
use crate::server::infra::installation::now_ms;
use crate::server::infra::state::AppState;
use crate::shared::error::AppError;
use crate::shared::money::Micros;

/// Charges the saved card for open invoice `invoice_id` of `user_id`. Without a card the
/// invoice waits (saving one asks again).
pub async fn collect(state: &AppState, user_id: &str, invoice_id: &str) -> Result<(), AppError> {
    let profile = profile::load(&state.db, user_id, now_ms()).await?;
    let (Some(card), Some(card_id)) = (profile.card, profile.card_id) else {
        return failed(state, invoice_id, "No saved card to charge: save one on the Balance tab.").await;
    };
    // Claims the next attempt: only an open invoice with no payment Stripe accepted (its
    // event still to come) is charged, and each attempt has its own idempotency key.
    let row = sqlx::query(
        "update invoice set payment_attempts = payment_attempts + 1, failure = null \
         where id = $1 and user_id = $2 and status = 'open' and payment_intent is null \
         returning payment_attempts, amount_due_micros",
    )
    .bind(invoice_id)
    .bind(user_id)
    .fetch_optional(state.db.pool())
    .await
    .map_err(db_err("charging an invoice"))?;
    let Some(row) = row else { return Ok(()) };
    let attempt: i64 = row.try_get(0).map_err(db_err("charging an invoice"))?;
    let due = Micros(row.try_get(1).map_err(db_err("charging an invoice"))?);
    // Rounded up to the cent: what was drawn is never billed short.
    let cents = (due.get() + 9_999) / 10_000;
    let card = CardToCharge { id: &card_id, sandbox: card.sandbox, customer: profile.stripe_customer.as_deref() };
    let metadata = HashMap::from([
        ("tollgate_invoice".to_string(), invoice_id.to_string()),
        ("tollgate_user_id".to_string(), user_id.to_string()),
    ]);
    let idempotency_key = format!("tollgate-invoice:{invoice_id}:{attempt}");
    match charge_saved_card(state, card, cents, &idempotency_key, metadata).await {
        Ok(Charge::Accepted { payment_intent }) => {
            sqlx::query("update invoice set payment_intent = $1, failure = null where id = $2 and status = 'open'")
                .bind(&payment_intent)
                .bind(invoice_id)
                .execute(state.db.pool())
                .await
                .map_err(db_err("recording an invoice payment"))?;
            Ok(())
        }
        Ok(Charge::Declined { reason }) => failed(state, invoice_id, &reason).await,
        Err(AppError::Conflict { message }) => failed(state, invoice_id, &message).await,
        Err(e) => {
            // Not a decline: asked for again within the hour (see `retry_unasked`).
            tracing::error!(invoice = invoice_id, error = %e, "invoice charge failed; will be asked for again");
            Ok(())
        }
    }
}

/// Asks again for open invoices whose last attempt never reached a decision (Stripe could
/// not be reached): no payment accepted and no decline recorded.
pub async fn retry_unasked(state: &AppState) -> Result<(), AppError> {
    let rows = sqlx::query(
        "select id, user_id from invoice where status = 'open' and payment_intent is null and failure is null \
         and payment_attempts > 0 limit 500",
    )
    .fetch_all(state.db.pool())
    .await
    .map_err(db_err("reading invoices"))?;
    for row in rows {
        let (id, user_id): (String, String) =
            (row.try_get(0).map_err(db_err("reading invoices"))?, row.try_get(1).map_err(db_err("reading invoices"))?);
        collect(state, &user_id, &id).await?;
    }
    Ok(())
}

/// Asks again for every open invoice of `user_id` (after a card is saved).
pub async fn collect_open(state: &AppState, user_id: &str) -> Result<(), AppError> {
    let open: Vec<String> = sqlx::query_scalar("select id from invoice where user_id = $1 and status = 'open'")
        .bind(user_id)
        .fetch_all(state.db.pool())
        .await
        .map_err(db_err("reading invoices"))?;
    for id in open {
        collect(state, user_id, &id).await?;
    }
    Ok(())
}

/// Records why the invoice's payment failed; it stays open, and a card saved later is
/// charged for it (a new attempt).
pub async fn failed(state: &AppState, invoice_id: &str, reason: &str) -> Result<(), AppError> {
    sqlx::query("update invoice set failure = $1, payment_intent = null where id = $2 and status = 'open'")
        .bind(reason)
        .bind(invoice_id)
        .execute(state.db.pool())
        .await
        .map_err(db_err("recording an invoice payment"))?;
    tracing::warn!(invoice = invoice_id, reason, "invoice not paid");
    Ok(())
}
