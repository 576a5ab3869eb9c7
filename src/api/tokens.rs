//! Settings > API tokens.

use crate::shared::error::AppError;
use leptos::prelude::*;

pub use crate::shared::dto::tokens::*;

#[server(endpoint = "tokens_list")]
pub async fn list_tokens() -> Result<Vec<TokenInfo>, AppError> {
    use crate::server::services::accounts::tokens;
    crate::server::web::guard::signed_in(|state, user| async move { tokens::list(&state.db, &user).await }).await
}

#[server(endpoint = "tokens_create")]
pub async fn create_token(name: String) -> Result<NewToken, AppError> {
    use crate::server::services::accounts::tokens;
    crate::server::web::guard::signed_in(|state, user| async move {
        let (secret, info) = tokens::create(&state.db, &user, &name).await?;
        Ok(NewToken { secret, info })
    })
    .await
}

#[server(endpoint = "tokens_revoke")]
pub async fn revoke_token(id: String) -> Result<(), AppError> {
    use crate::server::services::accounts::tokens;
    crate::server::web::guard::signed_in(|state, user| async move {
        tokens::revoke(&state.db, &user, &id).await?;
        // Remembered owners of tokens go, so the revoked one stops working now.
        state.caches.tokens.clear();
        Ok(())
    })
    .await
}

/// The budgets on the caller's tokens.
#[server(endpoint = "token_budgets")]
pub async fn token_budgets() -> Result<Vec<crate::shared::dto::budgets::Budget>, AppError> {
    use crate::server::services::budgets;
    crate::server::web::guard::signed_in(|state, user| async move { budgets::list_for(&state, &user).await }).await
}

/// Sets a token's budget: `limit` dollars per `period` (day, week, month or total).
#[server(endpoint = "token_budget_set")]
pub async fn set_token_budget(
    token: String,
    limit: String,
    period: String,
) -> Result<crate::shared::dto::budgets::Budget, AppError> {
    use crate::server::services::budgets;
    crate::server::web::guard::signed_in(|state, user| async move {
        let limit = budgets::parse_limit("limit", &limit)?;
        let period = budgets::parse_period("period", &period)?;
        budgets::set_token_budget(&state, &user, &token, limit, period).await
    })
    .await
}

#[server(endpoint = "token_budget_remove")]
pub async fn remove_token_budget(token: String) -> Result<(), AppError> {
    use crate::server::services::budgets;
    crate::server::web::guard::signed_in(|state, user| async move {
        budgets::remove_token_budget(&state, &user, &token).await
    })
    .await
}
