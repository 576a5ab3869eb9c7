//! Saving a card for later: Stripe Checkout in setup mode, the card it saved (read from
//! the SetupIntent, with its payment method), and removing a card (detaching it).

use stripe::{
    CheckoutSession, CheckoutSessionMode, CreateCheckoutSession, CreateCheckoutSessionPaymentMethodTypes, CustomerId,
    Expandable, PaymentMethod, PaymentMethodId, SetupIntent, SetupIntentId,
};

use super::StripeApi;
use super::checkout::StripeSession;
use crate::shared::error::AppError;

/// A saved card as the person sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardOnFile {
    /// The payment method (`pm_...`).
    pub id: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: i64,
    pub exp_year: i64,
}

/// Opens Checkout in setup mode for `customer`; Stripe sends the browser back to
/// `success_url` or `cancel_url`.
pub async fn setup_session(
    api: StripeApi<'_>,
    customer: &str,
    user_id: &str,
    success_url: &str,
    cancel_url: &str,
) -> Result<StripeSession, AppError> {
    let customer: CustomerId = super::stripe_id("cus", customer)
        .ok_or_else(|| AppError::internal("stripe card setup", "stored customer id is not a Stripe id"))?;
    let mut params = CreateCheckoutSession::new();
    params.mode = Some(CheckoutSessionMode::Setup);
    params.customer = Some(customer);
    params.client_reference_id = Some(user_id);
    params.payment_method_types = Some(vec![CreateCheckoutSessionPaymentMethodTypes::Card]);
    params.success_url = Some(success_url);
    params.cancel_url = Some(cancel_url);
    let session =
        CheckoutSession::create(&api.client(None), params).await.map_err(|e| super::refused("stripe card setup", e))?;
    let url = session
        .url
        .ok_or_else(|| AppError::internal("stripe card setup", "Stripe returned a session without a page"))?;
    Ok(StripeSession { id: session.id.to_string(), url })
}

/// The card a completed setup saved: its SetupIntent, with the payment method expanded.
pub async fn card_of_setup(api: StripeApi<'_>, setup_intent: &str) -> Result<CardOnFile, AppError> {
    let id: SetupIntentId = super::stripe_id("seti", setup_intent)
        .ok_or_else(|| AppError::validation("setup_intent", "That is not a Stripe setup id (seti_...)."))?;
    let intent = SetupIntent::retrieve(&api.client(None), &id, &["payment_method"])
        .await
        .map_err(|e| super::refused("stripe card setup", e))?;
    let method = match intent.payment_method {
        Some(Expandable::Object(method)) => *method,
        Some(Expandable::Id(id)) => PaymentMethod::retrieve(&api.client(None), &id, &[])
            .await
            .map_err(|e| super::refused("stripe card setup", e))?,
        None => return Err(AppError::internal("stripe card setup", "the setup saved no payment method")),
    };
    let card =
        method.card.ok_or_else(|| AppError::internal("stripe card setup", "the payment method is not a card"))?;
    Ok(CardOnFile {
        id: method.id.to_string(),
        brand: card.brand,
        last4: card.last4,
        exp_month: card.exp_month,
        exp_year: card.exp_year,
    })
}

/// Removes a saved card from its customer, so it can no longer be charged.
pub async fn detach(api: StripeApi<'_>, payment_method: &str) -> Result<(), AppError> {
    let id: PaymentMethodId = super::stripe_id("pm", payment_method)
        .ok_or_else(|| AppError::internal("stripe card removal", "stored card id is not a Stripe id"))?;
    PaymentMethod::detach(&api.client(None), &id).await.map_err(|e| super::refused("stripe card removal", e))?;
    Ok(())
}
