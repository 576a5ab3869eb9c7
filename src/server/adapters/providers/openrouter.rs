//! OpenRouter: connecting an account with PKCE (consent URL, code exchange, the
//! sandbox's consent codes) and chat completions.

use serde::Deserialize;
use url::Url;

use super::{Endpoint, ExchangeError, Providers, RunFailure, provider_message, send_run, without_url};
use crate::shared::dto::keys::Provider;
use crate::shared::endpoint::EndpointId;
use crate::shared::error::AppError;

/// Where the sandbox's OpenRouter consent page is served.
pub const SANDBOX_OPENROUTER_PATH: &str = "/sandbox/openrouter/auth";

impl Providers {
    /// Where to send someone to approve access to their OpenRouter account.
    pub fn openrouter_consent_url(&self, callback: &Url, code_challenge: &str) -> Url {
        let mut url = match &self.inner.openrouter {
            Endpoint::Sandbox => self.inner.public_url.join(SANDBOX_OPENROUTER_PATH).expect("a valid path"),
            Endpoint::Http(base) => base.at(["auth"]),
        };
        url.query_pairs_mut()
            .append_pair("callback_url", callback.as_str())
            .append_pair("code_challenge", code_challenge)
            .append_pair("code_challenge_method", "S256");
        url
    }

    /// Trades the code from OpenRouter's callback and our PKCE verifier for a key.
    pub async fn openrouter_exchange(&self, code: &str, verifier: &str) -> Result<String, ExchangeError> {
        let base = match &self.inner.openrouter {
            Endpoint::Sandbox => return self.inner.sandbox.exchange(code, verifier),
            Endpoint::Http(base) => base,
        };
        let body = serde_json::json!({ "code": code, "code_verifier": verifier, "code_challenge_method": "S256" });
        let url = base
            .guard(base.at(["api", "v1", "auth", "keys"]))
            .map_err(|_| ExchangeError::Unreachable("refused".into()))?;
        let res = self.inner.http.post(url).json(&body).send().await.map_err(|e| {
            tracing::warn!(error = %without_url(&e), "OpenRouter key exchange failed");
            ExchangeError::Unreachable("no answer".into())
        })?;
        let status = res.status().as_u16();
        if !res.status().is_success() {
            let text = res.text().await.unwrap_or_default();
            return Err(ExchangeError::Refused { status, message: provider_message(&text) });
        }
        #[derive(Deserialize)]
        struct Issued {
            key: String,
        }
        let issued: Issued = res.json().await.map_err(|_| ExchangeError::Malformed)?;
        if issued.key.trim().is_empty() {
            return Err(ExchangeError::Malformed);
        }
        Ok(issued.key)
    }

    /// A chat completion at OpenRouter for an `openrouter/<model>` endpoint (the model being
    /// an OpenRouter model id such as `openai/gpt-4o-mini`), asking for usage accounting so
    /// the answer carries its cost.
    pub async fn run_openrouter_chat(
        &self,
        endpoint_id: &EndpointId,
        own_key: Option<&str>,
        input: &serde_json::Value,
    ) -> Result<serde_json::Value, RunFailure> {
        let model = endpoint_id.openrouter_model().unwrap_or(endpoint_id.as_str());
        let mut body = input.clone();
        body["model"] = serde_json::json!(model);
        body["usage"] = serde_json::json!({ "include": true });
        body["stream"] = serde_json::json!(false);
        let base = match &self.inner.openrouter {
            Endpoint::Sandbox => return self.inner.sandbox.chat(model, &body).await,
            Endpoint::Http(base) => base,
        };
        let Some(key) = own_key.or(self.inner.openrouter_platform_key.as_deref()) else {
            return Err(RunFailure::NoPlatformKey);
        };
        let url = base.guard(base.at(["api", "v1", "chat", "completions"]))?;
        let request = self.inner.http.post(url).bearer_auth(key).json(&body);
        send_run(request, model).await
    }

    /// The sandbox consent page's code for `code_challenge`.
    pub fn sandbox_openrouter_code(&self, code_challenge: &str) -> Result<String, AppError> {
        if !self.is_sandbox(Provider::OpenRouter) {
            return Err(AppError::not_found("The sandbox"));
        }
        self.inner.sandbox.code_for(code_challenge)
    }
}

/// S256: base64url(SHA-256(verifier)) without padding (RFC 7636).
pub fn s256(verifier: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_s256_challenge_matches_rfc_7636() {
        // The example from RFC 7636, appendix B.
        assert_eq!(s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }
}
