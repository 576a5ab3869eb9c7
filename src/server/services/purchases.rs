//! Buying credits: checkout sessions, and the sandbox that stands in for Stripe Checkout
//! when no Stripe account is configured.

use sqlx::Row;

use crate::server::infra::installation::now_ms;
use crate::server::infra::state::AppState;
use crate::server::services::accounts::users::User;
use crate::shared::dto::purchases::{CheckoutState, Quote};
use crate::shared::error::AppError;
use crate::shared::money::Micros;

/// Opens a checkout for the amount typed and returns where to send the browser, with
/// what the purchase costs and gives.
pub async fn start_checkout(
    state: &AppState,
    user: &User,
    amount: &str,
    next: Option<&str>,
) -> Result<(String, Quote), AppError> {
    let back = crate::shared::dto::purchases::next_suffix(next);
    let rules = state.purchase_rules();
    if !rules.available {
        return Err(AppError::Conflict { message: "Buying credits is not available on this server yet.".into() });
    }
    let quote = rules.quote(amount)?;
    if let Some(key) = &state.config.stripe_secret_key {
        let key = String::from_utf8_lossy(&key.0).into_owned();
        let session = crate::server::adapters::stripe_checkout::create_session(
            state.config.stripe_api_base.as_str(),
            &key,
            &state.config.public_url,
            user,
            &quote,
            &back,
        )
        .await?;
        record_session(state, user, &session.id, "stripe", &quote).await?;
        return Ok((session.url, quote));
    }
    // The sandbox stands in only when there is no Stripe account and sandbox mode is on.
    let random =
        crate::server::infra::crypto::random_hex(12).map_err(|e| AppError::internal("starting a checkout", e))?;
    let id = format!("cs_sandbox_{random}");
    record_session(state, user, &id, "sandbox", &quote).await?;
    let page = format!("/sandbox/checkout/{id}");
    let url = match back.strip_prefix('&') {
        Some(query) => format!("{page}?{query}"),
        None => page,
    };
    Ok((url, quote))
}

/// Remembers what a session is worth, so the webhook credits what was priced here and
/// never what a browser says.
async fn record_session(
    state: &AppState,
    user: &User,
    id: &str,
    provider: &str,
    quote: &Quote,
) -> Result<(), AppError> {
    sqlx::query(
        "insert into checkout_session (id, user_id, provider, amount_micros, bonus_micros, status, created_at_ms) \
         values ($1, $2, $3, $4, $5, 'open', $6)",
    )
    .bind(id)
    .bind(&user.id)
    .bind(provider)
    .bind(quote.pay.get())
    .bind(quote.bonus.get())
    .bind(now_ms())
    .execute(state.db.pool())
    .await
    .map_err(|e| AppError::internal("starting a checkout", e))?;
    tracing::info!(user_id = %user.id, session = %id, provider, amount_micros = quote.pay.get(), "checkout started");
    Ok(())
}

/// The user's own session: (status, quote). Someone else's is "not found".
async fn own_session(state: &AppState, user: &User, session: &str) -> Result<(String, String, Quote), AppError> {
    let row = sqlx::query(
        "select status, provider, amount_micros, bonus_micros from checkout_session where id = $1 and user_id = $2",
    )
    .bind(session)
    .bind(&user.id)
    .fetch_optional(state.db.pool())
    .await
    .map_err(|e| AppError::internal("reading a checkout", e))?
    .ok_or_else(|| AppError::not_found("The checkout"))?;
    let get = |i| row.try_get::<i64, _>(i).map_err(|e| AppError::internal("reading a checkout", e));
    let (pay, bonus) = (Micros(get(2)?), Micros(get(3)?));
    let status: String = row.try_get(0).map_err(|e| AppError::internal("reading a checkout", e))?;
    let provider: String = row.try_get(1).map_err(|e| AppError::internal("reading a checkout", e))?;
    Ok((status, provider, Quote { pay, bonus, get: Micros(pay.get() + bonus.get()) }))
}

pub async fn checkout_state(state: &AppState, user: &User, session: &str) -> Result<CheckoutState, AppError> {
    let (status, _, quote) = own_session(state, user, session).await?;
    Ok(if status == "completed" { CheckoutState::Completed { get: quote.get } } else { CheckoutState::Processing })
}

/// What the sandbox checkout page shows: the quote of an open sandbox session.
pub async fn sandbox_quote(state: &AppState, user: &User, session: &str) -> Result<Quote, AppError> {
    let (status, provider, quote) = own_session(state, user, session).await?;
    if provider != "sandbox" || !state.purchase_rules().sandbox {
        return Err(AppError::not_found("The checkout"));
    }
    if status != "open" {
        return Err(AppError::Conflict { message: "This checkout is already paid.".into() });
    }
    Ok(quote)
}

/// Pays a sandbox session: builds the event Stripe would send, signs it with the webhook
/// secret and hands it to the webhook handler, so the sandbox proves the real path.
pub async fn sandbox_pay(state: &AppState, user: &User, session: &str) -> Result<(), AppError> {
    let quote = sandbox_quote(state, user, session).await?;
    let cents = quote
        .pay
        .to_cents_exact()
        .ok_or_else(|| AppError::internal("sandbox payment", "amount in fractions of a cent"))?;
    let random = crate::server::infra::crypto::random_hex(12).map_err(|e| AppError::internal("sandbox payment", e))?;
    let event = serde_json::json!({
        "id": format!("evt_sandbox_{random}"),
        "type": "checkout.session.completed",
        "data": { "object": {
            "id": session,
            "object": "checkout.session",
            "mode": "payment",
            "payment_status": "paid",
            "amount_total": cents,
            "currency": "usd",
            "client_reference_id": user.id,
        } }
    });
    let body = serde_json::to_vec(&event).map_err(|e| AppError::internal("sandbox payment", e))?;
    let now = now_ms();
    let header = crate::server::services::stripe::sign(&state.webhook_secret(), now / 1000, &body);
    crate::server::services::stripe::handle(state, Some(&header), &body, now).await?;
    Ok(())
}
