//! Buying credits: a checkout session priced here ([`start_checkout`]), paid at Stripe
//! Checkout (or the sandbox that stands in for it when no Stripe account is configured),
//! and settled when Stripe's signed event arrives ([`settle`]): the only place purchased
//! credits enter the ledger.

pub mod history;
pub mod invoice_events;
pub mod refund;
pub mod reversals;
pub mod sandbox;
pub mod settle;
pub mod top_ups;

use sqlx::Row;

use crate::server::infra::db::word;
use crate::server::infra::installation::now_ms;
use crate::server::infra::state::AppState;
use crate::server::services::accounts::users::User;
use crate::server::services::wallets::Acting;
use crate::shared::dto::purchases::{CheckoutState, Quote};
use crate::shared::error::AppError;
use crate::shared::money::Micros;
use crate::shared::states::{CheckoutProvider, CheckoutStatus};

/// Opens a checkout for the amount typed and returns where to send the browser, with
/// what the purchase costs and gives. Acting for a team, the credits go to the team's
/// wallet; only its owners and admins buy for it.
pub async fn start_checkout(
    state: &AppState,
    acting: &Acting,
    amount: &str,
    next: Option<&str>,
) -> Result<(String, Quote), AppError> {
    let user = &acting.user;
    if acting.team.as_ref().is_some_and(|t| !t.role.manages()) {
        return Err(AppError::Forbidden);
    }
    let team = acting.team_id();
    let back = crate::shared::dto::purchases::next_suffix(next);
    let rules = state.purchase_rules();
    if !rules.available {
        return Err(AppError::Conflict { message: "Buying credits is not available on this server yet.".into() });
    }
    let quote = rules.quote(amount)?;
    if let Some(key) = &state.config.stripe_secret_key {
        let key = String::from_utf8_lossy(&key.0).into_owned();
        let session = crate::server::adapters::stripe::checkout::create_session(
            state.config.stripe_api_base.as_str(),
            &key,
            &state.config.public_url,
            crate::server::adapters::stripe::checkout::Customer { id: &user.id, email: &user.email },
            &quote,
            &back,
        )
        .await?;
        record_session(state, (user, team), &session.id, CheckoutProvider::Stripe, &quote).await?;
        return Ok((session.url, quote));
    }
    // The sandbox stands in only when there is no Stripe account and sandbox mode is on.
    let random =
        crate::server::infra::crypto::random_hex(12).map_err(|e| AppError::internal("starting a checkout", e))?;
    let id = format!("cs_sandbox_{random}");
    record_session(state, (user, team), &id, CheckoutProvider::Sandbox, &quote).await?;
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
    (user, team): (&User, Option<&str>),
    id: &str,
    provider: CheckoutProvider,
    quote: &Quote,
) -> Result<(), AppError> {
    sqlx::query(
        "insert into checkout_session (id, user_id, provider, amount_micros, bonus_micros, status, created_at_ms, \
             team_id) values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(&user.id)
    .bind(provider.as_str())
    .bind(quote.pay.get())
    .bind(quote.bonus.get())
    .bind(CheckoutStatus::Open.as_str())
    .bind(now_ms())
    .bind(team)
    .execute(state.db.pool())
    .await
    .map_err(|e| AppError::internal("starting a checkout", e))?;
    tracing::info!(user_id = %user.id, session = %id, %provider, amount_micros = quote.pay.get(), "checkout started");
    Ok(())
}

/// The user's own session: (status, provider, quote). Someone else's is "not found".
async fn own_session(
    state: &AppState,
    user: &User,
    session: &str,
) -> Result<(CheckoutStatus, CheckoutProvider, Quote), AppError> {
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
    let status: CheckoutStatus = word(&row, 0).map_err(|e| AppError::internal("reading a checkout", e))?;
    let provider: CheckoutProvider = word(&row, 1).map_err(|e| AppError::internal("reading a checkout", e))?;
    Ok((status, provider, Quote { pay, bonus, get: Micros(pay.get() + bonus.get()) }))
}

pub async fn checkout_state(state: &AppState, user: &User, session: &str) -> Result<CheckoutState, AppError> {
    let (status, _, quote) = own_session(state, user, session).await?;
    Ok(match status {
        CheckoutStatus::Completed => CheckoutState::Completed { get: quote.get },
        CheckoutStatus::Open => CheckoutState::Processing,
    })
}
