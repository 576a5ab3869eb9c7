//! Settings > API keys: the fal.ai and OpenRouter keys of the wallet chosen in the header
//! (a person's own, or a team's: its owners and admins change them), and onboarding.

use crate::shared::error::AppError;
use leptos::prelude::*;

pub use crate::shared::dto::keys::*;

#[server(endpoint = "provider_keys")]
pub async fn provider_keys() -> Result<Vec<ProviderSlot>, AppError> {
    use crate::server::services::keys;
    crate::server::web::guard::acting(|state, acting| async move { keys::slots(&state.db, acting.owner_id()).await })
        .await
}

/// Saves (or replaces) a pasted key after checking its format and asking the provider.
#[server(endpoint = "provider_key_save")]
pub async fn save_provider_key(provider: String, key: String) -> Result<KeyOutcome, AppError> {
    use crate::server::services::keys;
    crate::server::web::guard::acting(|state, acting| async move {
        keys::save_pasted(&state, &acting.user.id, acting.managed_owner()?, Provider::from_field(&provider)?, &key)
            .await
    })
    .await
}

/// Asks the provider again whether the stored key works.
#[server(endpoint = "provider_key_test")]
pub async fn test_provider_key(provider: String) -> Result<KeyOutcome, AppError> {
    use crate::server::services::keys;
    crate::server::web::guard::acting(|state, acting| async move {
        keys::test(&state, acting.managed_owner()?, Provider::from_field(&provider)?).await
    })
    .await
}

#[server(endpoint = "provider_key_remove")]
pub async fn remove_provider_key(provider: String) -> Result<(), AppError> {
    use crate::server::services::keys;
    crate::server::web::guard::acting(|state, acting| async move {
        keys::remove(&state, acting.managed_owner()?, Provider::from_field(&provider)?).await
    })
    .await
}

/// Remembers that the signed-in person has seen the "Get started" dialog.
#[server(endpoint = "onboarding_done")]
pub async fn finish_onboarding() -> Result<(), AppError> {
    use crate::server::services::accounts::users;
    crate::server::web::guard::signed_in(
        |state, user| async move { users::finish_onboarding(&state.db, &user.id).await },
    )
    .await
}

/// The sandbox's stand-in for OpenRouter's consent. Only someone who started connecting
/// (which needs an account) gets here; see the service for what it allows.
#[server(endpoint = "sandbox_openrouter_consent")]
pub async fn sandbox_openrouter_consent(
    callback_url: String,
    code_challenge: String,
    code_challenge_method: String,
) -> Result<SandboxConsent, AppError> {
    use crate::server::services::keys::consent;
    crate::server::web::guard::signed_in(|state, _| async move {
        consent::sandbox_consent(&state, &callback_url, &code_challenge, &code_challenge_method)
    })
    .await
}
