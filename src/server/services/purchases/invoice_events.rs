//! Stripe's signed `payment_intent.succeeded` for an invoice: the invoice is paid and its
//! amount settles the credit line, in one transaction, once.

use serde_json::Value;

use super::settle::{Handled, WebhookError, internal};
use crate::server::infra::state::AppState;
use crate::shared::money::Micros;

/// Pays `invoice` with `payment`: the amount must be what is due.
pub async fn paid(
    state: &AppState,
    event_id: &str,
    invoice: &str,
    payment: &Value,
    now_ms: i64,
) -> Result<Handled, WebhookError> {
    use sqlx::Row;
    let payment_intent = payment["id"].as_str().ok_or(WebhookError::Malformed)?;
    let cents = payment["amount_received"].as_i64().ok_or(WebhookError::Malformed)?;
    let row = sqlx::query("select user_id, amount_due_micros from invoice where id = $1")
        .bind(invoice)
        .fetch_optional(state.db.pool())
        .await
        .map_err(|e| internal(&e))?
        .ok_or_else(|| WebhookError::Refused(format!("invoice {invoice} is not one of ours")))?;
    let user_id: String = row.try_get(0).map_err(|e| internal(&e))?;
    let due: i64 = row.try_get(1).map_err(|e| internal(&e))?;
    let expected_cents = (due + 9_999) / 10_000;
    if cents != expected_cents {
        tracing::error!(event_id, invoice, cents, expected_cents, "an invoice payment does not match; needs review");
        return Err(WebhookError::Refused(format!("invoice {invoice}: paid {cents} cents, {expected_cents} due")));
    }
    let wallet = state.ledger.open_wallet(&user_id).await.map_err(|e| internal(&e))?;
    let mut tx = state.db.begin_write().await.map_err(|e| internal(&e))?;
    // The wallet row before the invoice's, as when an invoice is made: no deadlock between
    // a payment and a run of the invoices.
    sqlx::query("update account set credit_used_micros = credit_used_micros where id = $1")
        .bind(wallet.0)
        .execute(&mut **tx)
        .await
        .map_err(|e| internal(&e))?;
    sqlx::query("insert into stripe_event (id, type, received_at_ms) values ($1, $2, $3) on conflict (id) do nothing")
        .bind(event_id)
        .bind("payment_intent.succeeded")
        .bind(now_ms)
        .execute(&mut **tx)
        .await
        .map_err(|e| internal(&e))?;
    let settled = sqlx::query(
        "update invoice set status = 'paid', paid_at_ms = $1, payment_intent = $2, failure = null \
         where id = $3 and status = 'open'",
    )
    .bind(now_ms)
    .bind(payment_intent)
    .bind(invoice)
    .execute(&mut **tx)
    .await
    .map_err(|e| internal(&e))?
    .rows_affected();
    if settled == 0 {
        tx.commit().await.map_err(|e| internal(&e))?;
        return Ok(Handled::AlreadyDone);
    }
    let description = format!("Invoice {invoice} paid");
    let receipt = state
        .ledger
        .pay_credit_line_in(&mut tx, wallet, Micros(cents * 10_000), &format!("invoice:{invoice}:paid"), &description)
        .await
        .map_err(|e| internal(&e))?;
    tx.commit().await.map_err(|e| internal(&e))?;
    tracing::info!(invoice, paid_down = receipt.paid_down.get(), credited = receipt.credited.get(), "invoice paid");
    Ok(Handled::Credited { session: invoice.to_string(), total: Micros(cents * 10_000) })
}
