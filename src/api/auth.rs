//! Signing up, in and out, and who is signed in.

use crate::shared::error::AppError;
use leptos::prelude::*;

pub use crate::shared::dto::auth::*;

#[server(endpoint = "account")]
pub async fn get_account() -> Result<Option<AccountSummary>, AppError> {
    use crate::server::services::accounts::sign_in;
    let (state, user) = crate::server::web::guard::optional_user().await?;
    match user {
        Some(user) => sign_in::summary(&state, user).await.map(Some),
        None => Ok(None),
    }
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
