//! Settings > API tokens.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    /// The first characters of the token, enough to recognise it.
    pub display_prefix: String,
    pub created_at_ms: i64,
    pub last_used_at_ms: Option<i64>,
}

/// A token just made: the secret is in this answer and nowhere else, ever.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewToken {
    pub secret: String,
    pub info: TokenInfo,
}

#[server(endpoint = "tokens_list")]
pub async fn list_tokens() -> Result<Vec<TokenInfo>, AppError> {
    use crate::server::auth::{guard, tokens};
    let (state, user) = guard::respond(guard::require_user().await)?;
    tokens::list(&state.db, &user).await
}

#[server(endpoint = "tokens_create")]
pub async fn create_token(name: String) -> Result<NewToken, AppError> {
    use crate::server::auth::{guard, tokens};
    guard::respond(
        async {
            let (state, user) = guard::require_user().await?;
            let (secret, info) = tokens::create(&state.db, &user, &name).await?;
            Ok(NewToken { secret, info })
        }
        .await,
    )
}

#[server(endpoint = "tokens_revoke")]
pub async fn revoke_token(id: String) -> Result<(), AppError> {
    use crate::server::auth::{guard, tokens};
    guard::respond(
        async {
            let (state, user) = guard::require_user().await?;
            tokens::revoke(&state.db, &user, &id).await?;
            // Remembered owners of tokens go, so the revoked one stops working now.
            state.caches.tokens.clear();
            Ok(())
        }
        .await,
    )
}
