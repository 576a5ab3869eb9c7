//! Buying credits: the price rules shared by the page (to show the quote) and the server
//! (to charge it), and the server functions.

use crate::shared::error::AppError;
use leptos::prelude::*;

pub use crate::shared::dto::purchases::*;

#[server(endpoint = "purchase_rules")]
pub async fn get_purchase_rules() -> Result<PurchaseRules, AppError> {
    use crate::server::infra::state::AppState;
    // Public: the same rules are on the page for anyone to read.
    Ok(AppState::from_context()?.purchase_rules())
}

/// Starts a checkout for `amount` dollars and sends the browser to the payment page.
/// `next` is a path on this site to offer going back to once the payment is done.
#[server(endpoint = "checkout_start")]
pub async fn start_checkout(amount: String, next: Option<String>) -> Result<(), AppError> {
    use crate::server::services::purchases;
    crate::server::web::guard::acting(|state, acting| async move {
        let (url, _) = purchases::start_checkout(&state, &acting, &amount, next.as_deref()).await?;
        leptos_axum::redirect(&url);
        Ok(())
    })
    .await
}

#[server(endpoint = "checkout_state")]
pub async fn get_checkout_state(session: String) -> Result<CheckoutState, AppError> {
    use crate::server::services::purchases;
    crate::server::web::guard::signed_in(|state, user| async move {
        purchases::checkout_state(&state, &user, &session).await
    })
    .await
}

/// The open sandbox checkout the sandbox payment page shows.
#[server(endpoint = "sandbox_checkout")]
pub async fn get_sandbox_checkout(session: String) -> Result<Quote, AppError> {
    use crate::server::services::purchases::sandbox;
    crate::server::web::guard::signed_in(
        |state, user| async move { sandbox::sandbox_quote(&state, &user, &session).await },
    )
    .await
}

/// The sandbox's "Pay" button: completes the checkout through the same signed webhook
/// path Stripe would use.
#[server(endpoint = "sandbox_pay")]
pub async fn sandbox_pay(session: String, next: Option<String>) -> Result<(), AppError> {
    use crate::server::services::purchases::sandbox;
    crate::server::web::guard::signed_in(|state, user| async move {
        sandbox::sandbox_pay(&state, &user, &session).await?;
        let back = next_suffix(next.as_deref());
        leptos_axum::redirect(&format!("/credits?checkout=success&session={session}{back}"));
        Ok(())
    })
    .await
}

/// The signed-in person's most recent payments, with refunds and disputes.
#[server(endpoint = "payments")]
pub async fn list_payments() -> Result<Vec<Payment>, AppError> {
    use crate::server::services::purchases::history;
    crate::server::web::guard::signed_in(|state, user| async move { history::payments(&state.db, &user.id, 20).await })
        .await
}

/// One of the signed-in person's payments, for its printable receipt.
#[server(endpoint = "payment_receipt")]
pub async fn get_receipt(id: String) -> Result<Payment, AppError> {
    use crate::server::services::purchases::history;
    crate::server::web::guard::signed_in(|state, user| async move { history::receipt(&state.db, &user.id, &id).await })
        .await
}
