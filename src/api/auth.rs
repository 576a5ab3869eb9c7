//! Signing up, in and out, and who is signed in.

use crate::shared::error::AppError;
use leptos::prelude::*;

pub use crate::shared::dto::auth::*;

#[server(endpoint = "account")]
pub async fn get_account() -> Result<Option<AccountSummary>, AppError> {
    use crate::server::services::accounts::sign_in;
    match crate::server::web::guard::require_acting().await {
        Ok((state, acting)) => sign_in::summary(&state, acting).await.map(Some),
        Err(crate::shared::error::AppError::Unauthorized) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Chooses the wallet the web app acts on: `team` is a team id the person is in, or empty
/// for their own. Answers with the header's summary for it.
#[server(endpoint = "select_wallet")]
pub async fn select_wallet(team: String) -> Result<AccountSummary, AppError> {
    use crate::server::services::accounts::sign_in;
    use crate::server::services::teams::TeamId;
    use crate::server::services::wallets;
    use crate::server::web::guard;
    guard::signed_in(|state, user| async move {
        let session = guard::current_session().await?;
        let err = |e| AppError::internal("choosing a wallet", e);
        let acting = if team.trim().is_empty() {
            session.remove::<String>(guard::WALLET_KEY).await.map_err(err)?;
            wallets::Acting::personal(user)
        } else {
            let id = TeamId::parse("team", &team)?;
            let found = wallets::in_team(&state, &user, &id).await?.ok_or_else(|| AppError::not_found("That team"))?;
            session.insert(guard::WALLET_KEY, id.as_str()).await.map_err(err)?;
            wallets::Acting::in_team(user, found)
        };
        sign_in::summary(&state, acting).await
    })
    .await
}

#[server(endpoint = "sign_up")]
pub async fn sign_up(email: String, password: String, next: Option<String>) -> Result<(), AppError> {
    use crate::server::infra::state::AppState;
    use crate::server::services::accounts::sign_in;
    use crate::server::web::guard;
    guard::respond(
        async {
            let state = AppState::from_context()?;
            let session = guard::current_session().await?;
            let user = sign_in::sign_up(&state, guard::client_ip(&state).await, &email, &password).await?;
            guard::start_session(&session, &user).await?;
            leptos_axum::redirect(&safe_next(next.as_deref()));
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "sign_in")]
pub async fn sign_in(email: String, password: String, next: Option<String>) -> Result<(), AppError> {
    use crate::server::infra::state::AppState;
    use crate::server::services::accounts::sign_in;
    use crate::server::web::guard;
    guard::respond(
        async {
            let state = AppState::from_context()?;
            let session = guard::current_session().await?;
            let user = sign_in::sign_in(&state, guard::client_ip(&state).await, &email, &password).await?;
            guard::start_session(&session, &user).await?;
            leptos_axum::redirect(&safe_next(next.as_deref()));
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    use crate::server::web::guard;
    let session = guard::current_session().await?;
    session.flush().await.map_err(|e| AppError::internal("signing out", e))?;
    leptos_axum::redirect("/");
    Ok(())
}
