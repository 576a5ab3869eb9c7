//! Signing up and in: the throttles, the password check and the sign-up credit. The
//! session itself is the web layer's; these answer with the account to start it for.

use std::net::IpAddr;

use super::throttle;
use super::users::{self, Role, User};
use crate::server::infra::installation::now_ms;
use crate::server::infra::state::AppState;
use crate::server::services::gateway::in_flight;
use crate::server::services::wallets::Acting;
use crate::shared::dto::auth::AccountSummary;
use crate::shared::error::AppError;

/// Opens an account and grants its sign-up credit. `address` is the caller's, counted
/// against the sign-ups one address may make.
pub async fn sign_up(state: &AppState, address: Option<IpAddr>, email: &str, password: &str) -> Result<User, AppError> {
    if let Some(ip) = address {
        let limit = throttle::Limit { free_attempts: i64::from(state.config.sign_ups_per_address) };
        throttle::attempt(&state.db, &throttle::sign_up_key(ip), limit, now_ms()).await?;
    }
    let user = users::create(&state.db, email, password, Role::User, state.config.signup_credit).await?;
    users::ensure_signup_grant(&state.ledger, &user, state.config.signup_credit_expiry_days).await?;
    Ok(user)
}

/// Checks an email and password. Attempts are counted per email and per address before
/// the password is checked, so parallel guesses cannot outrun the limits.
pub async fn sign_in(state: &AppState, address: Option<IpAddr>, email: &str, password: &str) -> Result<User, AppError> {
    let email_key = throttle::email_key(&users::normalize_email(email).unwrap_or_else(|_| email.trim().to_lowercase()));
    let address_key = address.map(throttle::address_key);
    if let Some(key) = &address_key {
        throttle::attempt(&state.db, key, throttle::SIGN_IN_PER_ADDRESS, now_ms()).await?;
    }
    throttle::attempt(&state.db, &email_key, throttle::SIGN_IN_PER_EMAIL, now_ms()).await?;
    let Some(user) = users::authenticate(&state.db, email, password).await? else {
        return Err(AppError::validation("password", "Wrong email or password."));
    };
    throttle::clear(&state.db, &email_key).await?;
    if let Some(key) = &address_key {
        throttle::forgive_one(&state.db, key).await?;
    }
    // An account whose sign-up credit could not be written at sign-up gets it now: the
    // amount recorded on the account, still only once.
    if let Err(e) = users::ensure_signup_grant(&state.ledger, &user, state.config.signup_credit_expiry_days).await {
        tracing::warn!(user_id = %user.id, error = %e, "sign-up credit not granted; will retry at next sign-in");
    }
    Ok(user)
}

/// Who is signed in, as every page's header shows it: email, the balance of the wallet
/// they act on (theirs or a team's), warnings, and the teams they can switch to.
pub async fn summary(state: &AppState, acting: Acting) -> Result<AccountSummary, AppError> {
    let owner = acting.owner_id().to_string();
    // Read before the balance: a stream that starts after it may repeat a change the
    // balance shows (harmless: events carry the balance after them), never miss one.
    let event_seq = crate::server::services::events::latest(state, &owner).await?;
    let balance = state.ledger.balance_of(&owner).await?;
    let teams = crate::server::services::teams::list(state, &acting.user).await?;
    let team = acting.team_id().and_then(|id| teams.iter().find(|t| t.id == id).cloned());
    let standing = in_flight::standing(state, in_flight::Owner::of(&acting.user.id, acting.team_id())).await?;
    let calls_at_once = crate::shared::dto::auth::CallsAtOnce {
        max: standing.max,
        set_by_admin: standing.max_override.is_some(),
        next: standing.next,
    };
    let user = acting.user;
    Ok(AccountSummary {
        calls_at_once,
        email: user.email,
        is_admin: user.role == Role::Admin,
        available: balance.available,
        reserved: balance.reserved,
        owed: balance.owed,
        credit_limit: balance.credit_limit,
        credit_used: balance.credit_used,
        low_balance: balance.available < state.config.low_balance && !balance.credit_limit.is_positive(),
        low_balance_threshold: state.config.low_balance,
        onboarding: user.onboarding_pending,
        event_seq,
        team,
        teams,
    })
}
