//! The Balance tab's payment settings: the saved card and auto top-up.

use crate::shared::error::AppError;
use leptos::prelude::*;

pub use crate::shared::dto::payments::*;

/// The card on file and auto top-up settings.
#[server(endpoint = "payment_settings")]
pub async fn get_payment_settings() -> Result<PaymentSettings, AppError> {
    use crate::server::services::payments::cards;
    crate::server::web::guard::signed_in(|state, user| async move { cards::payment_settings(&state, &user).await })
        .await
}

/// Sends the browser to save a card: Stripe Checkout in setup mode, or the sandbox.
#[server(endpoint = "card_setup")]
pub async fn start_card_setup() -> Result<(), AppError> {
    use crate::server::services::payments::cards;
    crate::server::web::guard::signed_in(|state, user| async move {
        let url = cards::start_setup(&state, &user).await?;
        leptos_axum::redirect(&url);
        Ok(())
    })
    .await
}

/// Removes the saved card; auto top-up turns off with it.
#[server(endpoint = "card_remove")]
pub async fn remove_card() -> Result<(), AppError> {
    use crate::server::services::payments::cards;
    crate::server::web::guard::signed_in(|state, user| async move { cards::remove(&state, &user).await }).await
}

/// The sandbox's card form: saves the card picked and goes back to the Balance tab.
#[server(endpoint = "sandbox_card")]
pub async fn save_sandbox_card(card: String) -> Result<(), AppError> {
    use crate::server::services::payments::cards;
    crate::server::web::guard::signed_in(|state, user| async move {
        cards::save_sandbox_card(&state, &user, &card).await?;
        leptos_axum::redirect("/credits?card=saved");
        Ok(())
    })
    .await
}

/// Saves auto top-up settings. `enabled` is a checkbox: present ("on") when ticked.
#[server(endpoint = "auto_top_up")]
pub async fn save_auto_top_up(
    enabled: Option<String>,
    threshold_usd: String,
    amount_usd: String,
    monthly_cap_usd: String,
) -> Result<AutoTopUp, AppError> {
    use crate::server::services::payments::auto_top_up;
    crate::server::web::guard::signed_in(|state, user| async move {
        let on = enabled.as_deref().is_some_and(|v| matches!(v, "on" | "true" | "1"));
        let settings =
            AutoTopUpSettings::parse(on, &threshold_usd, &amount_usd, &monthly_cap_usd, &state.purchase_rules())?;
        auto_top_up::update(&state, &user, settings).await
    })
    .await
}

/// The signed-in person's invoices (postpaid accounts), newest first.
#[server(endpoint = "invoices")]
pub async fn list_invoices() -> Result<Vec<Invoice>, AppError> {
    use crate::server::services::payments::invoices;
    crate::server::web::guard::signed_in(|state, user| async move { invoices::list(&state.db, &user.id).await }).await
}

/// One of the signed-in person's invoices, with its lines.
#[server(endpoint = "invoice")]
pub async fn get_invoice(id: String) -> Result<Invoice, AppError> {
    use crate::server::services::payments::invoices;
    crate::server::web::guard::signed_in(|state, user| async move { invoices::get(&state.db, &user.id, &id).await })
        .await
}
