//! Stripe webhooks: signature checking and the events that add purchased credits.
//!
//! Stripe signs each delivery: `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256
//! of "<t>.<body>">`. Deliveries that are unsigned, wrongly signed or older than five
//! minutes are refused, so a captured request cannot be replayed later. The built-in
//! sandbox signs its events the same way and goes through the same code.

use serde_json::Value;
use sqlx::Row;

use crate::server::infra::crypto::{constant_time_eq, hex, hmac_sha256};

use crate::server::infra::state::AppState;
use crate::server::ledger::{CreditKind, CreditRequest};
use crate::shared::error::AppError;
use crate::shared::money::Micros;

/// How old a signed delivery may be.
pub const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("missing or malformed Stripe-Signature header")]
    Unsigned,
    #[error("signature does not match")]
    BadSignature,
    #[error("signature timestamp is outside the tolerance")]
    Stale,
    #[error("event is not valid JSON or lacks an id or type")]
    Malformed,
    #[error("event type {0} is not handled")]
    UnknownType(String),
    #[error("checkout session {0} is not one of ours")]
    UnknownSession(String),
    #[error("checkout session {0} was not paid")]
    NotPaid(String),
    #[error("checkout session {session}: paid {paid_cents} cents, expected {expected_cents}")]
    AmountMismatch { session: String, paid_cents: i64, expected_cents: i64 },
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
    /// Seen before (same event, or another event for a session already credited).
    AlreadyDone,
}

pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let sig = hex(&hmac_sha256(secret, &[timestamp.to_string().as_bytes(), b".", body]));
    format!("t={timestamp},v1={sig}")
}

/// Checks a `Stripe-Signature` header against the raw body.
pub fn verify(secret: &[u8], header: Option<&str>, body: &[u8], now_secs: i64) -> Result<(), WebhookError> {
    let header = header.ok_or(WebhookError::Unsigned)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", s)) => signatures.push(s),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(WebhookError::Unsigned)?;
    if signatures.is_empty() {
        return Err(WebhookError::Unsigned);
    }
    if now_secs.abs_diff(timestamp) > TOLERANCE_SECS.unsigned_abs() {
        return Err(WebhookError::Stale);
    }
    let expected = hmac_sha256(secret, &[timestamp.to_string().as_bytes(), b".", body]);
    let matches = signatures.iter().any(|s| decode_hex(s).is_some_and(|bytes| constant_time_eq(&bytes, &expected)));
    if matches { Ok(()) } else { Err(WebhookError::BadSignature) }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// Verifies and applies one delivery.
pub async fn handle(state: &AppState, header: Option<&str>, body: &[u8], now_ms: i64) -> Result<Handled, WebhookError> {
    verify(&state.webhook_secret(), header, body, now_ms / 1000)?;
    let event: Value = serde_json::from_slice(body).map_err(|_| WebhookError::Malformed)?;
    let id = event["id"].as_str().ok_or(WebhookError::Malformed)?;
    let kind = event["type"].as_str().ok_or(WebhookError::Malformed)?;
    if kind != "checkout.session.completed" {
        return Err(WebhookError::UnknownType(kind.to_string()));
    }
    let object = &event["data"]["object"];
    let session = object["id"].as_str().ok_or(WebhookError::Malformed)?;
    if object["payment_status"].as_str() != Some("paid") {
        return Err(WebhookError::NotPaid(session.to_string()));
    }
    let paid_cents = object["amount_total"].as_i64().ok_or(WebhookError::Malformed)?;
    if object["currency"].as_str().is_some_and(|c| !c.eq_ignore_ascii_case("usd")) {
        return Err(WebhookError::Malformed);
    }
    let outcome = complete(state, id, session, paid_cents, now_ms).await;
    if let Err(e @ (WebhookError::UnknownSession(_) | WebhookError::AmountMismatch { .. })) = &outcome {
        // Signed by Stripe, so money may have moved: someone must look at it.
        tracing::error!(event_id = id, error = %e, "a paid checkout could not be credited; needs review");
    }
    outcome
}

/// Credits a paid session once: the event id and the session's status are written in the
/// same transaction as the credits.
async fn complete(
    state: &AppState,
    event_id: &str,
    session: &str,
    paid_cents: i64,
    now_ms: i64,
) -> Result<Handled, WebhookError> {
    let internal = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "stripe webhook failed");
        WebhookError::Internal
    };
    let row = sqlx::query("select user_id, amount_micros, bonus_micros from checkout_session where id = $1")
        .bind(session)
        .fetch_optional(state.db.pool())
        .await
        .map_err(|e| internal(&e))?
        .ok_or_else(|| WebhookError::UnknownSession(session.to_string()))?;
    let (user_id, amount, bonus): (String, i64, i64) = (
        row.try_get(0).map_err(|e| internal(&e))?,
        row.try_get(1).map_err(|e| internal(&e))?,
        row.try_get(2).map_err(|e| internal(&e))?,
    );
    // The amount comes from our own record of the session, never from the browser; the
    // provider's total must agree with it.
    let expected_cents = amount / 10_000;
    if paid_cents != expected_cents {
        return Err(WebhookError::AmountMismatch { session: session.to_string(), paid_cents, expected_cents });
    }
    let wallet = state.ledger.open_wallet(&user_id).await.map_err(|e| internal(&e))?;
    let mut tx = state.db.begin_write().await.map_err(|e| internal(&e))?;
    let fresh = sqlx::query("insert into stripe_event (id, type, received_at_ms) values ($1, 'checkout.session.completed', $2) on conflict (id) do nothing")
        .bind(event_id)
        .bind(now_ms)
        .execute(&mut **tx)
        .await
        .map_err(|e| internal(&e))?
        .rows_affected();
    let opened = sqlx::query(
        "update checkout_session set status = 'completed', completed_at_ms = $1 where id = $2 and status = 'open'",
    )
    .bind(now_ms)
    .bind(session)
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
    let meta = serde_json::json!({ "checkout_session": session, "stripe_event": event_id });
    let purchase = CreditRequest {
        idempotency_key: format!("checkout:{session}:purchase"),
        wallet,
        amount: Micros(amount),
        kind: CreditKind::Purchase,
        description: format!("Bought {} of credits", Micros(amount).format()),
        metadata: meta.clone(),
        expires_at_ms: None,
    };
    state.ledger.credit_in(&mut tx, &purchase).await.map_err(|e| internal(&e))?;
    if bonus > 0 {
        let bonus_credit = CreditRequest {
            idempotency_key: format!("checkout:{session}:bonus"),
            wallet,
            amount: Micros(bonus),
            kind: CreditKind::PurchaseBonus,
            description: format!("Bonus on a {} purchase", Micros(amount).format()),
            metadata: meta,
            expires_at_ms: None,
        };
        state.ledger.credit_in(&mut tx, &bonus_credit).await.map_err(|e| internal(&e))?;
    }
    tx.commit().await.map_err(|e| internal(&e))?;
    tracing::info!(%user_id, session, amount_micros = amount, bonus_micros = bonus, "purchase credited");
    Ok(Handled::Credited { session: session.to_string(), total: Micros(amount + bonus) })
}

/// The HTTP route: 200 when handled (or already handled), 400 when refused.
pub async fn webhook_route(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let header = headers.get("stripe-signature").and_then(|v| v.to_str().ok());
    match handle(&state, header, &body, crate::server::infra::installation::now_ms()).await {
        Ok(done) => {
            tracing::info!(?done, "stripe webhook handled");
            (axum::http::StatusCode::OK, axum::Json(serde_json::json!({ "received": true }))).into_response()
        }
        Err(WebhookError::Internal) => {
            // A retry may succeed: let Stripe try again.
            (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "stripe webhook refused");
            (axum::http::StatusCode::BAD_REQUEST, axum::Json(serde_json::json!({ "error": e.to_string() })))
                .into_response()
        }
    }
}

impl From<WebhookError> for AppError {
    fn from(e: WebhookError) -> Self {
        AppError::internal("sandbox payment", e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_checked_for_key_body_and_age() {
        let secret = b"whsec_test";
        let body = br#"{"id":"evt_1"}"#;
        let header = sign(secret, 1_000_000, body);
        assert_eq!(verify(secret, Some(&header), body, 1_000_000), Ok(()));
        assert_eq!(verify(secret, Some(&header), body, 1_000_000 + TOLERANCE_SECS), Ok(()));
        assert_eq!(verify(secret, Some(&header), body, 1_000_000 + TOLERANCE_SECS + 1), Err(WebhookError::Stale));
        assert_eq!(verify(b"other", Some(&header), body, 1_000_000), Err(WebhookError::BadSignature));
        assert_eq!(verify(secret, Some(&header), br#"{"id":"evt_2"}"#, 1_000_000), Err(WebhookError::BadSignature));
        assert_eq!(verify(secret, None, body, 1_000_000), Err(WebhookError::Unsigned));
        assert_eq!(verify(secret, Some("t=1000000"), body, 1_000_000), Err(WebhookError::Unsigned));
        assert_eq!(verify(secret, Some("v1=abcd"), body, 1_000_000), Err(WebhookError::Unsigned));
        assert_eq!(verify(secret, Some("t=-9223372036854775808,v1=00"), body, 1_000_000), Err(WebhookError::Stale));
        // Several v1 signatures (a rolled secret): any one may match.
        let both = format!("{},v1=00ff", header);
        assert_eq!(verify(secret, Some(&both), body, 1_000_000), Ok(()));
    }
}
