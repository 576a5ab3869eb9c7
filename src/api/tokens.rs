//! Settings > API tokens.

use crate::shared::error::AppError;
use leptos::prelude::*;

pub use crate::shared::dto::tokens::*;

#[server(endpoint = "tokens_list")]
pub async fn list_tokens() -> Result<Vec<TokenInfo>, AppError> {
    use crate::server::services::accounts::tokens;
    crate::server::web::guard::signed_in(|state, user| async move { tokens::list(&state.db, &user).await }).await
}

/// Makes a token. `team` (a team id, or empty for the person's own wallet) makes its
/// calls pay from that team's wallet.
#[server(endpoint = "tokens_create")]
pub async fn create_token(name: String, team: Option<String>) -> Result<NewToken, AppError> {
    use crate::server::services::accounts::tokens;
    use crate::server::services::teams::TeamId;
    use crate::server::services::wallets;
    crate::server::web::guard::signed_in(|state, user| async move {
        let team = match team.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => {
                let id = TeamId::parse("team", raw)?;
                let found = wallets::in_team(&state, &user, &id)
                    .await?
                    .ok_or_else(|| AppError::validation("team", "You are not in that team."))?;
                Some((id.as_str().to_string(), found.name))
            }
        };
        let (secret, info) = tokens::create(&state.db, &user, &name, team).await?;
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
