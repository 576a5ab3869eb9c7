//! Settings > API tokens.

use crate::shared::error::AppError;
use leptos::prelude::*;

pub use crate::shared::dto::tokens::*;

#[server(endpoint = "tokens_list")]
pub async fn list_tokens() -> Result<Vec<TokenInfo>, AppError> {
    use crate::server::services::accounts::tokens;
    use crate::server::web::guard;
    let (state, user) = guard::respond(guard::require_user().await)?;
    tokens::list(&state.db, &user).await
}

#[server(endpoint = "tokens_create")]
pub async fn create_token(name: String) -> Result<NewToken, AppError> {
    use crate::server::services::accounts::tokens;
    use crate::server::web::guard;
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
    use crate::server::services::accounts::tokens;
    use crate::server::web::guard;
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
