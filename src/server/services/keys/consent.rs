//! The sandbox's stand-in for OpenRouter's consent page, so connecting by OAuth (PKCE)
//! can be tried end to end without an OpenRouter account.

use crate::server::infra::state::AppState;
use crate::shared::dto::keys::{OPENROUTER_CALLBACK_PATH, SandboxConsent};
use crate::shared::error::AppError;

/// Approving sends the browser back with a code for `code_challenge` that the sandbox
/// exchange accepts with the matching verifier; denying sends it back with
/// `error=access_denied`. Only back to this site's own callback, and only S256.
pub fn sandbox_consent(
    state: &AppState,
    callback_url: &str,
    code_challenge: &str,
    code_challenge_method: &str,
) -> Result<SandboxConsent, AppError> {
    let callback = url::Url::parse(callback_url)
        .ok()
        .filter(|u| u.origin() == state.config.public_url.origin() && u.path() == OPENROUTER_CALLBACK_PATH)
        .ok_or_else(|| AppError::validation("callback_url", "The callback address is not this site's."))?;
    if code_challenge_method != "S256" {
        return Err(AppError::validation("code_challenge_method", "Only S256 code challenges are accepted."));
    }
    let code = state.providers.sandbox_openrouter_code(code_challenge)?;
    let mut allow = callback.clone();
    allow.query_pairs_mut().append_pair("code", &code);
    let mut deny = callback;
    deny.query_pairs_mut().append_pair("error", "access_denied");
    Ok(SandboxConsent { allow_url: allow.to_string(), deny_url: deny.to_string() })
}
