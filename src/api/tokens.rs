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
