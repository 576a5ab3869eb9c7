//! Settling a purchase: a signed `checkout.session.completed` event from Stripe adds the
//! credits the session was priced at, once. The built-in sandbox signs its events the same
//! way and comes through the same code.

use serde_json::Value;
use sqlx::Row;

use crate::server::adapters::stripe::signature::{SignatureError, verify};
use crate::server::infra::state::AppState;
use crate::server::ledger::{CreditKind, CreditRequest};
use crate::shared::error::AppError;
use crate::shared::money::Micros;
use crate::shared::states::CheckoutStatus;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error("event is not valid JSON or lacks an id or type")]
    Malformed,
    #[error("event type {0} is not handled")]
    UnknownType(String),
    #[error("checkout session {0} is not one of ours")]
    UnknownSession(String),
    #[error("payment {0} is not one of ours")]
    UnknownPayment(String),
    #[error("dispute {0} is not one we know")]
    UnknownDispute(String),
    #[error("checkout session {0} was not paid")]
    NotPaid(String),
    #[error("checkout session {session}: paid {paid_cents} cents, expected {expected_cents}")]
    AmountMismatch { session: String, paid_cents: i64, expected_cents: i64 },
    #[error("{0}")]
    Refused(String),
    #[error("internal error")]
    Internal,
}

/// What a handled delivery did.
#[derive(Debug, PartialEq, Eq)]
pub enum Handled {
    Credited {
        session: String,
        total: Micros,
    },
    /// Credits taken back for a refund or an opened dispute: from the wallet, and owed.
    TakenBack {
        session: String,
        taken: Micros,
        owed: Micros,
    },
    /// A dispute decided for the payer: what was taken for it given back.
    Restored {
        dispute: String,
        credited: Micros,
        forgiven: Micros,
    },
    /// A dispute lost for good: recorded, nothing more moves.
    DisputeLost(String),
    /// A card saved through Checkout in setup mode.
    CardSaved,
    /// An auto top-up the card declined: recorded, and auto top-up paused.
    TopUpDeclined(String),
    /// An event about a payment that is not ours to act on (a Checkout purchase's own
    /// payment, which its session's event credits).
    Ignored,
    /// Seen before (same event, or another event for a session already credited).
    AlreadyDone,
}

/// Verifies and applies one delivery.
pub async fn handle(state: &AppState, header: Option<&str>, body: &[u8], now_ms: i64) -> Result<Handled, WebhookError> {
    verify(&state.webhook_secret(), header, body, now_ms / 1000)?;
    let event: Value = serde_json::from_slice(body).map_err(|_| WebhookError::Malformed)?;
    let id = event["id"].as_str().ok_or(WebhookError::Malformed)?;
    let kind = event["type"].as_str().ok_or(WebhookError::Malformed)?;
    let object = &event["data"]["object"];
    match kind {
        "checkout.session.completed" if object["mode"].as_str() == Some("setup") => {
            super::top_ups::card_saved(state, id, object, now_ms).await
        }
        "checkout.session.completed" => checkout_completed(state, id, object, now_ms).await,
        "payment_intent.succeeded" => super::top_ups::succeeded(state, id, object, now_ms).await,
        "payment_intent.payment_failed" => super::top_ups::failed(state, id, object, now_ms).await,
        "charge.refunded" => super::reversals::refunded(state, id, object, now_ms).await,
        "charge.dispute.created" => super::reversals::dispute_opened(state, id, object, now_ms).await,
        "charge.dispute.closed" => super::reversals::dispute_closed(state, id, object, now_ms).await,
        other => Err(WebhookError::UnknownType(other.to_string())),
    }
}

/// A paid Checkout session: its credits, once.
async fn checkout_completed(state: &AppState, id: &str, object: &Value, now_ms: i64) -> Result<Handled, WebhookError> {
    let session = object["id"].as_str().ok_or(WebhookError::Malformed)?;
    if object["payment_status"].as_str() != Some("paid") {
        return Err(WebhookError::NotPaid(session.to_string()));
    }
    let paid_cents = object["amount_total"].as_i64().ok_or(WebhookError::Malformed)?;
    if object["currency"].as_str().is_some_and(|c| !c.eq_ignore_ascii_case("usd")) {
        return Err(WebhookError::Malformed);
    }
    // The payment a later refund or dispute names.
    let payment_intent = object["payment_intent"].as_str();
    let outcome =
        complete(state, (id, "checkout.session.completed"), session, payment_intent, paid_cents, now_ms).await;
    if let Err(e @ (WebhookError::UnknownSession(_) | WebhookError::AmountMismatch { .. })) = &outcome {
        // Signed by Stripe, so money may have moved: someone must look at it.
        tracing::error!(event_id = id, error = %e, "a paid checkout could not be credited; needs review");
    }
    outcome
}

/// A checkout session as this server recorded it when it was priced.
struct Recorded {
    /// The wallet's owner: the buyer, or the team the credits were bought for.
    user_id: String,
    amount: i64,
    bonus: i64,
    /// 'checkout' (bought on the page) or 'auto_top_up'.
    kind: String,
}

pub(super) fn internal(e: &dyn std::fmt::Display) -> WebhookError {
    tracing::error!(error = %e, "stripe webhook failed");
    WebhookError::Internal
}

/// Our record of `session`; the provider's total must agree with the amount priced here
/// (never what a browser said).
async fn recorded_session(state: &AppState, session: &str, paid_cents: i64) -> Result<Recorded, WebhookError> {
    let row = sqlx::query(
        "select coalesce(team_id, user_id), amount_micros, bonus_micros, kind from checkout_session where id = $1",
    )
    .bind(session)
    .fetch_optional(state.db.pool())
    .await
    .map_err(|e| internal(&e))?
    .ok_or_else(|| WebhookError::UnknownSession(session.to_string()))?;
    let recorded = Recorded {
        user_id: row.try_get(0).map_err(|e| internal(&e))?,
        amount: row.try_get(1).map_err(|e| internal(&e))?,
        bonus: row.try_get(2).map_err(|e| internal(&e))?,
        kind: row.try_get(3).map_err(|e| internal(&e))?,
    };
    let expected_cents = recorded.amount / 10_000;
    if paid_cents != expected_cents {
        return Err(WebhookError::AmountMismatch { session: session.to_string(), paid_cents, expected_cents });
    }
    Ok(recorded)
}

/// Credits a paid session once: the event id and the session's status are written in the
/// same transaction as the credits.
pub(super) async fn complete(
    state: &AppState,
    (event_id, event_type): (&str, &str),
    session: &str,
    payment_intent: Option<&str>,
    paid_cents: i64,
    now_ms: i64,
) -> Result<Handled, WebhookError> {
    let Recorded { user_id, amount, bonus, kind: source } = recorded_session(state, session, paid_cents).await?;
    let wallet = state.ledger.open_wallet(&user_id).await.map_err(|e| internal(&e))?;
    let mut tx = state.db.begin_write().await.map_err(|e| internal(&e))?;
    let fresh = sqlx::query(
        "insert into stripe_event (id, type, received_at_ms) values ($1, $2, $3) on conflict (id) do nothing",
    )
    .bind(event_id)
    .bind(event_type)
    .bind(now_ms)
    .execute(&mut **tx)
    .await
    .map_err(|e| internal(&e))?
    .rows_affected();
    let opened = sqlx::query(
        "update checkout_session set status = $1, completed_at_ms = $2, payment_intent = $3 where id = $4 and status = $5",
    )
    .bind(CheckoutStatus::Completed.as_str())
    .bind(now_ms)
    .bind(payment_intent)
    .bind(session)
    .bind(CheckoutStatus::Open.as_str())
    .execute(&mut **tx)
    .await
    .map_err(|e| internal(&e))?
    .rows_affected();
    if opened == 0 {
        // The session was credited before: keep the record of a new event id, if it is one.
        tx.commit().await.map_err(|e| internal(&e))?;
        return Ok(Handled::AlreadyDone);
    }
    if fresh == 0 {
        // A known event for a session still open cannot happen; change nothing.
        tracing::error!(event_id, session, "event seen before but its session is still open");
        return Err(WebhookError::Internal);
    }
    // `source` names the money event: a purchase, or an auto top-up.
    let meta = serde_json::json!({ "checkout_session": session, "stripe_event": event_id, "source": source });
    for (part, kind, credit, description) in [
        ("purchase", CreditKind::Purchase, amount, format!("Bought {} of credits", Micros(amount).format())),
        ("bonus", CreditKind::PurchaseBonus, bonus, format!("Bonus on a {} purchase", Micros(amount).format())),
    ] {
        if part == "bonus" && credit <= 0 {
            continue;
        }
        let request = CreditRequest {
            idempotency_key: format!("checkout:{session}:{part}"),
            wallet,
            amount: Micros(credit),
            kind,
            description,
            metadata: meta.clone(),
            expires_at_ms: None,
        };
        state.ledger.credit_in(&mut tx, &request).await.map_err(|e| internal(&e))?;
    }
    tx.commit().await.map_err(|e| internal(&e))?;
    tracing::info!(%user_id, session, amount_micros = amount, bonus_micros = bonus, "purchase credited");
    Ok(Handled::Credited { session: session.to_string(), total: Micros(amount + bonus) })
}

impl From<WebhookError> for AppError {
    fn from(e: WebhookError) -> Self {
        AppError::internal("sandbox payment", e)
    }
}
