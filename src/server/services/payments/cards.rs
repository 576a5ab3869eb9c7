//! The saved card: saved through Stripe Checkout in setup mode (or, without a Stripe
//! account, picked from the sandbox's cards), shown on the Balance tab, removed on request.
//! A Stripe Customer is made once per account, the first time a card is saved.

use serde_json::Value;

use super::profile;
use crate::server::adapters::stripe;
use crate::server::infra::installation::now_ms;
use crate::server::infra::state::AppState;
use crate::server::services::accounts::users::User;
use crate::shared::dto::payments::{PaymentSettings, SandboxCard, SavedCard};
use crate::shared::error::AppError;

/// The sandbox page that stands in for Stripe's card form.
pub const SANDBOX_CARD_PAGE: &str = "/sandbox/card";

/// The card and auto top-up settings, for the Balance tab and the API.
pub async fn payment_settings(state: &AppState, user: &User) -> Result<PaymentSettings, AppError> {
    let profile = profile::load(&state.db, &user.id, now_ms()).await?;
    Ok(PaymentSettings {
        card: profile.card,
        auto_top_up: profile.auto,
        cards_available: super::stripe_key(state).is_some() || state.config.sandbox,
    })
}

/// Starts saving a card: the address to send the browser to (Stripe Checkout in setup
/// mode, or the sandbox's card page).
pub async fn start_setup(state: &AppState, user: &User) -> Result<String, AppError> {
    let Some(key) = super::stripe_key(state) else {
        if !state.config.sandbox {
            return Err(AppError::Conflict { message: "Saving a card is not available on this server.".into() });
        }
        return Ok(SANDBOX_CARD_PAGE.to_string());
    };
    let api = super::api(state, &key);
    let customer = customer_of(state, user, api).await?;
    let back = |outcome: &str| {
        state
            .config
            .public_url
            .join(&format!("credits?card={outcome}"))
            .map_err(|e| AppError::internal("card setup", e))
    };
    let session =
        stripe::cards::setup_session(api, &customer, &user.id, back("saved")?.as_str(), back("cancel")?.as_str())
            .await?;
    tracing::info!(user_id = %user.id, session = %session.id, "card setup started");
    Ok(session.url)
}

/// The account's Stripe customer, made the first time it is needed.
async fn customer_of(state: &AppState, user: &User, api: stripe::StripeApi<'_>) -> Result<String, AppError> {
    let now = now_ms();
    if let Some(customer) = profile::load(&state.db, &user.id, now).await?.stripe_customer {
        return Ok(customer);
    }
    let made = stripe::customers::create_customer(api, &user.id, &user.email).await?;
    profile::set_customer(&state.db, &user.id, &made, now).await
}

/// Saves the sandbox card `card_id` (the sandbox page's choice).
pub async fn save_sandbox_card(state: &AppState, user: &User, card_id: &str) -> Result<SavedCard, AppError> {
    if super::stripe_key(state).is_some() || !state.config.sandbox {
        return Err(AppError::not_found("The sandbox"));
    }
    let chosen = SandboxCard::find(card_id).ok_or_else(|| AppError::validation("card", "Pick one of the cards."))?;
    let card = chosen.as_saved();
    profile::set_card(&state.db, &user.id, chosen.id, &card, now_ms()).await?;
    tracing::info!(user_id = %user.id, card = chosen.id, "sandbox card saved");
    collect_open_invoices(state, &user.id).await;
    Ok(card)
}

/// A completed setup-mode Checkout session (from Stripe's signed event): the card it
/// saved becomes the account's card, replacing (and detaching) any earlier one. Saving
/// the same card twice changes nothing.
pub async fn setup_completed(state: &AppState, session: &Value) -> Result<(), AppError> {
    let user_id = session["client_reference_id"].as_str().unwrap_or_default();
    let customer = session["customer"].as_str().unwrap_or_default();
    let setup_intent = session["setup_intent"].as_str().unwrap_or_default();
    let key = super::stripe_key(state).ok_or_else(|| AppError::internal("card setup", "no Stripe key configured"))?;
    let now = now_ms();
    let profile = profile::load(&state.db, user_id, now).await?;
    if user_id.is_empty() || profile.stripe_customer.as_deref() != Some(customer) {
        return Err(AppError::validation("customer", "The setup is not for a customer of this server."));
    }
    let api = super::api(state, &key);
    let card = stripe::cards::card_of_setup(api, setup_intent).await?;
    if let Some(old) = profile.card_id.filter(|old| *old != card.id) {
        if let Err(e) = stripe::cards::detach(api, &old).await {
            tracing::warn!(%user_id, error = %e, "the replaced card could not be detached");
        }
    }
    let saved = SavedCard {
        brand: card.brand,
        last4: card.last4,
        exp_month: card.exp_month,
        exp_year: card.exp_year,
        sandbox: false,
    };
    profile::set_card(&state.db, user_id, &card.id, &saved, now).await?;
    tracing::info!(%user_id, "card saved");
    collect_open_invoices(state, user_id).await;
    Ok(())
}

/// Removes the saved card (detached at Stripe, so it cannot be charged again) and turns
/// auto top-up off.
pub async fn remove(state: &AppState, user: &User) -> Result<(), AppError> {
    let now = now_ms();
    let profile = profile::load(&state.db, &user.id, now).await?;
    let Some(card_id) = profile.card_id else {
        return Err(AppError::not_found("A saved card"));
    };
    if profile.card.as_ref().is_some_and(|c| !c.sandbox) {
        let key = super::stripe_key(state).ok_or_else(|| AppError::Conflict {
            message: "This card was saved through Stripe, and no Stripe key is configured.".into(),
        })?;
        match stripe::cards::detach(super::api(state, &key), &card_id).await {
            Ok(()) => {}
            // Already detached (in Stripe's dashboard, say) or unknown there: it cannot be
            // charged either way, so it is forgotten here too.
            Err(AppError::Conflict { message }) => {
                tracing::warn!(user_id = %user.id, %message, "card was not attached at Stripe; removed here");
            }
            Err(e) => return Err(e),
        }
    }
    profile::clear_card(&state.db, &user.id, now).await?;
    tracing::info!(user_id = %user.id, "card removed; auto top-up off");
    Ok(())
}

/// A new card pays the invoices still open; a failure is recorded on them, not here.
async fn collect_open_invoices(state: &AppState, user_id: &str) {
    // Boxed: paying in the sandbox goes back through the webhook handler, which saves cards.
    if let Err(e) = Box::pin(super::invoice_payments::collect_open(state, user_id)).await {
        tracing::error!(%user_id, error = %e, "open invoices could not be charged to the new card");
    }
}
