//! Settings > API keys: people's own fal.ai and OpenRouter keys, and onboarding.

use crate::shared::error::AppError;
use leptos::prelude::*;

pub use crate::shared::dto::keys::*;

#[server(endpoint = "provider_keys")]
pub async fn provider_keys() -> Result<Vec<ProviderSlot>, AppError> {
    use crate::server::web::guard;
    guard::respond(
        async {
            let (state, user) = guard::require_user().await?;
            let stored = crate::server::services::keys::list(&state.db, &user.id).await?;
            Ok(Provider::ALL
                .into_iter()
                .map(|provider| ProviderSlot { provider, key: stored.iter().find(|k| k.provider == provider).cloned() })
                .collect())
        }
        .await,
    )
}

/// Saves (or replaces) a pasted key after checking its format and asking the provider.
#[server(endpoint = "provider_key_save")]
pub async fn save_provider_key(provider: String, key: String) -> Result<KeyOutcome, AppError> {
    use crate::server::web::guard;
    guard::respond(
        async {
            let (state, user) = guard::require_user().await?;
            let provider = Provider::parse(&provider)?;
            crate::server::services::keys::save_pasted(&state, &user.id, provider, &key).await
        }
        .await,
    )
}

/// Asks the provider again whether the stored key works.
#[server(endpoint = "provider_key_test")]
pub async fn test_provider_key(provider: String) -> Result<KeyOutcome, AppError> {
    use crate::server::web::guard;
    guard::respond(
        async {
            let (state, user) = guard::require_user().await?;
            let provider = Provider::parse(&provider)?;
            crate::server::services::keys::test(&state, &user.id, provider).await
        }
        .await,
    )
}

#[server(endpoint = "provider_key_remove")]
pub async fn remove_provider_key(provider: String) -> Result<(), AppError> {
    use crate::server::web::guard;
    guard::respond(
        async {
            let (state, user) = guard::require_user().await?;
            let provider = Provider::parse(&provider)?;
            crate::server::services::keys::remove(&state, &user.id, provider).await
        }
        .await,
    )
}

/// Remembers that the signed-in person has seen the "Get started" dialog.
#[server(endpoint = "onboarding_done")]
pub async fn finish_onboarding() -> Result<(), AppError> {
    use crate::server::services::accounts::users;
    use crate::server::web::guard;
    guard::respond(
        async {
            let (state, user) = guard::require_user().await?;
            users::finish_onboarding(&state.db, &user.id).await
        }
        .await,
    )
}

/// The sandbox's stand-in for OpenRouter's consent: approving sends the browser back with
/// a code for `code_challenge` that the sandbox exchange accepts with the matching
/// verifier; denying sends it back with `error=access_denied`. Only in sandbox mode, and
/// only back to this site's own callback.
#[server(endpoint = "sandbox_openrouter_consent")]
pub async fn sandbox_openrouter_consent(
    callback_url: String,
    code_challenge: String,
    code_challenge_method: String,
) -> Result<SandboxConsent, AppError> {
    use crate::server::web::guard;
    guard::respond(
        async {
            // Only someone who started connecting (which needs an account) gets here.
            let (state, _user) = guard::require_user().await?;
            let callback = url::Url::parse(&callback_url)
                .ok()
                .filter(|u| {
                    u.origin() == state.config.public_url.origin()
                        && u.path() == crate::server::web::oauth::CALLBACK_PATH
                })
                .ok_or_else(|| AppError::validation("callback_url", "The callback address is not this site's."))?;
            if code_challenge_method != "S256" {
                return Err(AppError::validation("code_challenge_method", "Only S256 code challenges are accepted."));
            }
            let code = state.providers.sandbox_openrouter_code(&code_challenge)?;
            let mut allow = callback.clone();
            allow.query_pairs_mut().append_pair("code", &code);
            let mut deny = callback;
            deny.query_pairs_mut().append_pair("error", "access_denied");
            Ok(SandboxConsent { allow_url: allow.to_string(), deny_url: deny.to_string() })
        }
        .await,
    )
}
