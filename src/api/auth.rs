//! Signing up, in and out, and who is signed in.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::money::Micros;

/// The signed-in person as the header and pages show them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSummary {
    pub email: String,
    pub is_admin: bool,
    /// What can be spent now.
    pub available: Micros,
    pub reserved: Micros,
    /// The available balance is under the low-balance threshold.
    pub low_balance: bool,
    /// Where the low-balance warning starts.
    pub low_balance_threshold: Micros,
    /// The "Get started" dialog is still to be shown.
    pub onboarding: bool,
}

/// Where to go after signing in: only a path on this site, never another site. Browsers
/// ignore tabs and newlines in addresses and read `\\` as `/`, so any of those, or any
/// other control character, anywhere in the path sends the person to the default page.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control)
                && n.len() <= 512 =>
        {
            n.to_string()
        }
        _ => "/credits".to_string(),
    }
}

/// Percent-encodes `s` for a query value, keeping `/` so local paths stay readable
/// (`next=/studio%3Fmodel%3Dflux`).
pub fn encode_query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[server(endpoint = "account")]
pub async fn get_account() -> Result<Option<AccountSummary>, AppError> {
    use crate::server::auth::guard::optional_user;
    let (state, user) = optional_user().await?;
    let Some(user) = user else { return Ok(None) };
    let balance = state.ledger.balance_of(&user.id).await?;
    Ok(Some(AccountSummary {
        email: user.email,
        is_admin: user.role == crate::server::auth::users::Role::Admin,
        available: balance.available,
        reserved: balance.reserved,
        low_balance: balance.available < state.config.low_balance,
        low_balance_threshold: state.config.low_balance,
        onboarding: user.onboarding_pending,
    }))
}

#[server(endpoint = "sign_up")]
pub async fn sign_up(email: String, password: String, next: Option<String>) -> Result<(), AppError> {
    use crate::server::auth::{guard, users};
    use crate::server::state::AppState;
    guard::respond(
        async {
            use crate::server::auth::throttle;
            use crate::server::installation::now_ms;
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
    use crate::server::auth::{guard, throttle, users};
    use crate::server::installation::now_ms;
    use crate::server::state::AppState;
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
    use crate::server::auth::guard;
    let session = guard::current_session().await?;
    session.flush().await.map_err(|e| AppError::internal("signing out", e))?;
    leptos_axum::redirect("/");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/settings/api-tokens")), "/settings/api-tokens");
        assert_eq!(safe_next(Some("https://evil.example")), "/credits");
        assert_eq!(safe_next(Some("//evil.example")), "/credits");
        assert_eq!(safe_next(Some("/\\evil.example")), "/credits");
        assert_eq!(safe_next(Some("/\t/evil.example")), "/credits");
        assert_eq!(safe_next(Some("/\t\\evil.example")), "/credits");
        assert_eq!(safe_next(Some("/credits\r\nSet-Cookie: x=y")), "/credits");
        assert_eq!(safe_next(Some("/a/b\\c")), "/credits");
        assert_eq!(safe_next(None), "/credits");
    }
}
