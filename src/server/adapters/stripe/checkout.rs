//! Creating Stripe Checkout Sessions with async-stripe. The API address is a setting, so
//! tests (and a Stripe mock) can stand in for api.stripe.com.

use std::collections::HashMap;

use stripe::{
    CheckoutSession, CheckoutSessionMode, Client, CreateCheckoutSession, CreateCheckoutSessionLineItems,
    CreateCheckoutSessionLineItemsPriceData, CreateCheckoutSessionLineItemsPriceDataProductData, Currency,
};

use crate::shared::dto::purchases::Quote;
use crate::shared::error::AppError;

/// Who is paying, as Stripe is told: our account id and the email to prefill.
pub struct Customer<'a> {
    pub id: &'a str,
    pub email: &'a str,
}

/// A session Stripe made: its id and the page to send the browser to.
pub struct StripeSession {
    pub id: String,
    pub url: String,
}

pub async fn create_session(
    api_base: &str,
    secret_key: &str,
    public_url: &url::Url,
    user: Customer<'_>,
    quote: &Quote,
    back: &str,
) -> Result<StripeSession, AppError> {
    let cents = quote
        .pay
        .to_cents_exact()
        .ok_or_else(|| AppError::internal("stripe checkout", "amount in fractions of a cent"))?;
    let client = Client::from_url(api_base, secret_key);
    let success = public_url
        .join(&format!("credits?checkout=success&session={{CHECKOUT_SESSION_ID}}{back}"))
        .map_err(|e| AppError::internal("stripe checkout", e))?;
    let cancel = public_url
        .join(&format!("credits?checkout=cancel{back}"))
        .map_err(|e| AppError::internal("stripe checkout", e))?;
    let mut params = CreateCheckoutSession::new();
    params.mode = Some(CheckoutSessionMode::Payment);
    params.client_reference_id = Some(user.id);
    params.customer_email = Some(user.email);
    params.success_url = Some(success.as_str());
    params.cancel_url = Some(cancel.as_str());
    params.line_items = Some(vec![CreateCheckoutSessionLineItems {
        quantity: Some(1),
        price_data: Some(CreateCheckoutSessionLineItemsPriceData {
            currency: Currency::USD,
            unit_amount: Some(cents),
            product_data: Some(CreateCheckoutSessionLineItemsPriceDataProductData {
                name: format!("Tollgate credits ({} with bonus)", quote.get.format()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }]);
    params.metadata = Some(HashMap::from([
        ("user_id".to_string(), user.id.to_string()),
        ("bonus_micros".to_string(), quote.bonus.get().to_string()),
    ]));
    let session: CheckoutSession = CheckoutSession::create(&client, params).await.map_err(|e| {
        // The secret key never appears in these errors; Stripe's message may help.
        AppError::internal("stripe checkout", e)
    })?;
    let url = session
        .url
        .ok_or_else(|| AppError::internal("stripe checkout", "Stripe returned a session without a payment page"))?;
    Ok(StripeSession { id: session.id.to_string(), url })
}
