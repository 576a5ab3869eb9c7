//! Refunding a purchase, as an administrator asks for it: Stripe is asked to refund the
//! payment (the sandbox plays Stripe's part), and the signed `charge.refunded` event that
//! follows takes the credits back (see `reversals`), so a refund made in Stripe's own
//! dashboard is handled the same way.

use sqlx::Row;

use crate::server::infra::db::word;
use crate::server::infra::state::AppState;
use crate::shared::error::AppError;
use crate::shared::money::Micros;
use crate::shared::states::{CheckoutProvider, CheckoutStatus};

/// A refund asked for: of which purchase, how much, and Stripe's id for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundStarted {
    pub session: String,
    pub payment_intent: String,
    pub amount: Micros,
    pub refund_id: String,
}

/// Refunds `amount` (all that is left when `None`) of the purchase whose checkout session
/// or payment is `payment`.
pub async fn refund(state: &AppState, payment: &str, amount: Option<Micros>) -> Result<RefundStarted, AppError> {
    let err = |e| AppError::internal("reading a payment", e);
    let row = sqlx::query(
        "select id, payment_intent, provider, status, amount_micros, refunded_micros from checkout_session \
         where id = $1 or payment_intent = $1",
    )
    .bind(payment.trim())
    .fetch_optional(state.db.pool())
    .await
    .map_err(err)?
    .ok_or_else(|| AppError::validation("payment", "No purchase has that checkout session or payment id."))?;
    let status: CheckoutStatus = word(&row, 3).map_err(err)?;
    let payment_intent: Option<String> = row.try_get(1).map_err(err)?;
    let (Some(payment_intent), CheckoutStatus::Completed) = (payment_intent, status) else {
        return Err(AppError::validation("payment", "That purchase was not paid, so there is nothing to refund."));
    };
    let session: String = row.try_get(0).map_err(err)?;
    let provider: CheckoutProvider = word(&row, 2).map_err(err)?;
    let (paid, refunded): (i64, i64) = (row.try_get(4).map_err(err)?, row.try_get(5).map_err(err)?);
    let left = Micros(paid - refunded);
    let amount = amount.unwrap_or(left);
    if !amount.is_positive() || amount > left || amount.to_cents_exact().is_none() {
        return Err(AppError::validation(
            "amount_usd",
            format!("Refund a whole number of cents from $0.01 to {} (what is left of this purchase).", left.format()),
        ));
    }
    let cents = amount.to_cents_exact().unwrap_or(0);
    let refund_id = match provider {
        CheckoutProvider::Stripe => {
            let key = state.config.stripe_secret_key.as_ref().ok_or_else(|| AppError::Conflict {
                message: "This purchase was paid through Stripe, and no Stripe key is configured.".into(),
            })?;
            let key = String::from_utf8_lossy(&key.0).into_owned();
            // The purchase, what was refunded of it so far, and this amount: a retried or
            // double-submitted command is the same refund at Stripe. A second refund of the
            // same amount is asked for once the first one's event has arrived.
            let attempt = format!("{refunded}:{cents}");
            let api = crate::server::adapters::stripe::StripeApi {
                base: state.config.stripe_api_base.as_str(),
                secret_key: &key,
            };
            crate::server::adapters::stripe::refunds::create_refund(
                api,
                &payment_intent,
                cents,
                &format!("tollgate-refund:{session}:{attempt}"),
            )
            .await?
        }
        CheckoutProvider::Sandbox => sandbox_refund(state, &payment_intent, (paid, refunded + amount.get())).await?,
    };
    tracing::info!(%session, amount_micros = amount.get(), %refund_id, "refund asked for");
    Ok(RefundStarted { session, payment_intent, amount, refund_id })
}

/// The sandbox's Stripe: sends the signed `charge.refunded` event Stripe would send.
async fn sandbox_refund(
    state: &AppState,
    payment_intent: &str,
    (paid, refunded): (i64, i64),
) -> Result<String, AppError> {
    let random = crate::server::infra::crypto::random_hex(12).map_err(|e| AppError::internal("sandbox refund", e))?;
    let event = serde_json::json!({
        "id": format!("evt_sandbox_{random}"),
        "type": "charge.refunded",
        "data": { "object": {
            "id": format!("ch_sandbox_{random}"),
            "object": "charge",
            "payment_intent": payment_intent,
            "amount": paid / 10_000,
            "amount_refunded": refunded / 10_000,
            "currency": "usd",
        } }
    });
    super::sandbox::deliver(state, &event).await?;
    Ok(format!("re_sandbox_{random}"))
}
