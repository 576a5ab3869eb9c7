//! Signing up, in and out, and who is signed in.

use crate::shared::error::AppError;
use leptos::prelude::*;

pub use crate::shared::dto::auth::*;

#[server(endpoint = "account")]
pub async fn get_account() -> Result<Option<AccountSummary>, AppError> {
    use crate::server::web::guard::optional_user;
    let (state, user) = optional_user().await?;
    let Some(user) = user else { return Ok(None) };
    let balance = state.ledger.balance_of(&user.id).await?;
    Ok(Some(AccountSummary {
        email: user.email,
        is_admin: user.role == crate::server::services::accounts::users::Role::Admin,
        available: balance.available,
        reserved: balance.reserved,
        low_balance: balance.available < state.config.low_balance,
        low_balance_threshold: state.config.low_balance,
        onboarding: user.onboarding_pending,
    }))
}

#[server(endpoint = "sign_up")]
pub async fn sign_up(email: String, password: String, next: Option<String>) -> Result<(), AppError> {
    use crate::server::infra::state::AppState;
    use crate::server::services::accounts::users;
    use crate::server::web::guard;
    guard::respond(
        async {
            use crate::server::infra::installation::now_ms;
            use crate::server::services::accounts::throttle;
            let state = AppState::from_context()?;
            let session = guard::current_session().await?;
            if let Some(ip) = guard::client_ip(&state).await {
                let limit = throttle::Limit { free_attempts: i64::from(state.config.sign_ups_per_address) };
                throttle::attempt(&state.db, &throttle::sign_up_key(ip), limit, now_ms()).await?;
            }
            let user =
                users::create(&state.db, &email, &password, users::Role::User, state.config.signup_credit).await?;
            users::ensure_signup_grant(&state.ledger, &user, state.config.signup_credit_expiry_days).await?;
            guard::start_session(&session, &user).await?;
            leptos_axum::redirect(&safe_next(next.as_deref()));
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "sign_in")]
pub async fn sign_in(email: String, password: String, next: Option<String>) -> Result<(), AppError> {
    use crate::server::infra::installation::now_ms;
    use crate::server::infra::state::AppState;
    use crate::server::services::accounts::{throttle, users};
    use crate::server::web::guard;
    guard::respond(async {
        let state = AppState::from_context()?;
        let session = guard::current_session().await?;
        let email_key = throttle::email_key(&users::normalize_email(&email).unwrap_or_else(|_| email.trim().to_lowercase()));
        let address_key = guard::client_ip(&state).await.map(throttle::address_key);
        // Counted before the password is checked, so parallel guesses cannot outrun it.
        if let Some(key) = &address_key {
            throttle::attempt(&state.db, key, throttle::SIGN_IN_PER_ADDRESS, now_ms()).await?;
        }
        throttle::attempt(&state.db, &email_key, throttle::SIGN_IN_PER_EMAIL, now_ms()).await?;
        let Some(user) = users::authenticate(&state.db, &email, &password).await? else {
            return Err(AppError::validation("password", "Wrong email or password."));
        };
        throttle::clear(&state.db, &email_key).await?;
        if let Some(key) = &address_key {
            throttle::forgive_one(&state.db, key).await?;
        }
        guard::start_session(&session, &user).await?;
        // An account whose sign-up credit could not be written at sign-up gets it now:
        // the amount recorded on the account, still only once.
        if let Err(e) = users::ensure_signup_grant(&state.ledger, &user, state.config.signup_credit_expiry_days).await {
            tracing::warn!(user_id = %user.id, error = %e, "sign-up credit not granted; will retry at next sign-in");
        }
        leptos_axum::redirect(&safe_next(next.as_deref()));
        Ok(())
    }
    .await)
}

#[server(endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    use crate::server::web::guard;
    let session = guard::current_session().await?;
    session.flush().await.map_err(|e| AppError::internal("signing out", e))?;
    leptos_axum::redirect("/");
    Ok(())
}
