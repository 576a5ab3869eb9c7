//! Auto top-up: when available credits fall under the person's threshold, their saved
//! card is charged off session for the amount they chose, within a monthly cap, at most
//! once per cooldown, and never again after a decline until they act.
//!
//! The charge's idempotency key is the account and the attempt's number, and attempts
//! are claimed by a guarded update ([`attempts::claim`]), so instances racing past the
//! threshold together charge once. Credits come only from Stripe's signed
//! `payment_intent.succeeded` (the sandbox sends the same event, signed the same way).

use std::collections::HashMap;

use super::attempts::{self, Attempt};
use super::charge::{CardToCharge, charge_saved_card};
use super::profile;
use crate::server::adapters::stripe::payment_intents::Charge;
use crate::server::infra::installation::now_ms;
use crate::server::infra::state::AppState;
use crate::server::services::accounts::users::User;
use crate::shared::dto::payments::{AutoTopUp, AutoTopUpSettings};
use crate::shared::error::AppError;

/// The person's auto top-up settings and where they stand.
pub async fn settings(state: &AppState, user: &User) -> Result<AutoTopUp, AppError> {
    Ok(profile::load(&state.db, &user.id, now_ms()).await?.auto)
}

/// Saves the settings. Turning auto top-up on needs a saved card; saving lifts a pause.
/// Turning it on below the threshold starts a top-up at once.
pub async fn update(state: &AppState, user: &User, settings: AutoTopUpSettings) -> Result<AutoTopUp, AppError> {
    let now = now_ms();
    if settings.enabled && profile::load(&state.db, &user.id, now).await?.card.is_none() {
        return Err(AppError::validation("enabled", "Save a card first: auto top-up charges it."));
    }
    profile::set_auto(&state.db, &user.id, &settings, now).await?;
    tracing::info!(
        user_id = %user.id,
        enabled = settings.enabled,
        threshold_micros = settings.threshold.get(),
        amount_micros = settings.amount.get(),
        cap_micros = settings.monthly_cap.get(),
        "auto top-up saved"
    );
    if settings.enabled {
        // The settings are saved whatever happens next; a failed first attempt is
        // recorded (and paused) or logged, not reported as a failure to save.
        if let Err(e) = run_if_due(state, &user.id).await {
            tracing::error!(user_id = %user.id, error = %e, "auto top-up check after saving failed");
        }
    }
    self::settings(state, user).await
}

/// After spending: checks, in the background, whether the balance fell under the
/// threshold. The spending call does not wait for Stripe.
pub fn after_spend(state: &AppState, user_id: &str) {
    let (state, user_id) = (state.clone(), user_id.to_string());
    tokio::spawn(async move {
        if let Err(e) = run_if_due(&state, &user_id).await {
            tracing::error!(%user_id, error = %e, "auto top-up check failed");
        }
    });
}

/// Starts a top-up if the balance is under the threshold and an attempt may start now.
/// Returns the attempt started, if any.
pub async fn run_if_due(state: &AppState, user_id: &str) -> Result<Option<String>, AppError> {
    let now = now_ms();
    let profile = profile::load(&state.db, user_id, now).await?;
    if !profile.auto.enabled || profile.auto.paused_reason.is_some() || profile.card.is_none() {
        return Ok(None);
    }
    let balance = state.ledger.balance_of(user_id).await?;
    if balance.available >= profile.auto.threshold && !balance.owed.is_positive() {
        return Ok(None);
    }
    let cooldown_ms = i64::from(state.config.auto_top_up_cooldown_secs) * 1000;
    let rules = state.purchase_rules();
    let Some(attempt) =
        attempts::claim(&state.db, user_id, now, cooldown_ms, |amount| rules.quote_micros(amount)).await?
    else {
        return Ok(None);
    };
    tracing::info!(%user_id, session = %attempt.session, amount_micros = attempt.quote.pay.get(), "auto top-up started");
    let session = attempt.session.clone();
    charge(state, user_id, &attempt).await?;
    Ok(Some(session))
}

/// Charges the saved card once per attempt and records Stripe's answer.
async fn charge(state: &AppState, user_id: &str, attempt: &Attempt) -> Result<(), AppError> {
    let card = CardToCharge { id: &attempt.card_id, sandbox: attempt.sandbox, customer: attempt.customer.as_deref() };
    let cents = attempt.quote.pay.to_cents_exact().unwrap_or(0);
    let metadata = HashMap::from([
        ("tollgate_session".to_string(), attempt.session.clone()),
        ("tollgate_user_id".to_string(), user_id.to_string()),
    ]);
    let idempotency_key = format!("tollgate-top-up:{user_id}:{}", attempt.seq);
    match charge_saved_card(state, card, cents, &idempotency_key, metadata).await {
        Ok(Charge::Accepted { payment_intent }) => {
            attempts::charged(&state.db, &attempt.session, &payment_intent).await
        }
        Ok(Charge::Declined { reason }) => attempts::declined(&state.db, &attempt.session, &reason).await.map(|_| ()),
        // Stripe refused the request (a detached card, an unknown customer): nothing was
        // charged, and retrying would be refused the same way.
        Err(AppError::Conflict { message }) => {
            attempts::declined(&state.db, &attempt.session, &message).await.map(|_| ())
        }
        Err(e) => {
            // Whether Stripe charged is unknown: the attempt stays pending, so nothing is
            // tried again until its event arrives or it goes stale.
            tracing::error!(%user_id, session = %attempt.session, error = %e, "auto top-up charge failed");
            Ok(())
        }
    }
}
