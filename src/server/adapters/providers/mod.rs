//! The AI providers Tollgate talks to for people: checking their keys and connecting
//! OpenRouter accounts. Each provider is either reached over HTTP at its configured base
//! URL (the real service, or a stand-in in tests) or, in sandbox mode without a base URL,
//! played by the built-in sandbox so nothing leaves the machine.

mod queue;
mod sandbox;

pub use queue::{QueueState, QueueTicket};

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::server::infra::config::Config;
use crate::shared::dto::keys::Provider;
use crate::shared::endpoint::EndpointId;
use crate::shared::error::AppError;

/// The provider's answer about a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyCheck {
    Valid,
    /// The provider refused the key (HTTP 401 or 403).
    Rejected,
    /// The provider could not be asked, or answered something else; why, for the person.
    Unreachable(String),
}

/// Why connecting an OpenRouter account did not produce a key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExchangeError {
    #[error("OpenRouter refused the code (HTTP {status}): {message}")]
    Refused { status: u16, message: String },
    #[error("OpenRouter could not be reached: {0}")]
    Unreachable(String),
    #[error("OpenRouter's answer had no key")]
    Malformed,
}

#[derive(Clone, Debug)]
enum Endpoint {
    Sandbox,
    Http(Base),
}

/// A provider's configured base URL. Every URL a key is sent to is built from it by
/// appending path segments, each percent-encoded on its own (so none can add a host, a
/// query or a `..`), and checked to still be under it before the key is attached.
#[derive(Clone, Debug)]
pub struct Base(Url);

impl Base {
    pub fn new(mut url: Url) -> Self {
        if !url.path().ends_with('/') {
            let with_slash = format!("{}/", url.path());
            url.set_path(&with_slash);
        }
        url.set_query(None);
        url.set_fragment(None);
        Self(url)
    }

    /// The base with `segments` appended to its path.
    pub fn at<'a>(&self, segments: impl IntoIterator<Item = &'a str>) -> Url {
        let mut url = self.0.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// Whether `url` is on this base's origin (scheme, host and port) and under its path.
    pub fn contains(&self, url: &Url) -> bool {
        let base = &self.0;
        url.scheme() == base.scheme()
            && url.host_str() == base.host_str()
            && url.port_or_known_default() == base.port_or_known_default()
            && url.username().is_empty()
            && url.password().is_none()
            && url.path().starts_with(base.path())
            && url.path_segments().is_some_and(|mut parts| {
                !parts
                    .any(|p| matches!(p.to_ascii_lowercase().as_str(), "." | ".." | "%2e" | "%2e%2e" | ".%2e" | "%2e."))
            })
    }

    /// `url`, once it is known to be under this base: the check made before a key is
    /// attached to a request.
    fn guard(&self, url: Url) -> Result<Url, RunFailure> {
        if self.contains(&url) {
            Ok(url)
        } else {
            tracing::error!(
                base = %self.0,
                host = url.host_str().unwrap_or("-"),
                "refused to send a provider key outside the provider's configured base URL"
            );
            Err(RunFailure::OffBase)
        }
    }
}

#[derive(Clone)]
pub struct Providers {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    fal: Endpoint,
    fal_run: Endpoint,
    fal_queue: Endpoint,
    fal_platform_key: Option<String>,
    openrouter_platform_key: Option<String>,
    openrouter: Endpoint,
    public_url: Url,
    sandbox: sandbox::Sandbox,
}

const FAL_DEFAULT: &str = "https://api.fal.ai/";
const OPENROUTER_DEFAULT: &str = "https://openrouter.ai/";
const FAL_RUN_DEFAULT: &str = "https://fal.run/";
const FAL_QUEUE_DEFAULT: &str = "https://queue.fal.run/";
/// How long a synchronous model run may take before it counts as failed.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// Why a provider call produced nothing. None of these is ever charged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunFailure {
    /// The provider failed (HTTP 5xx).
    ServerError(u16),
    Timeout,
    Network,
    /// The provider refused the key (HTTP 401 or 403).
    KeyRefused,
    /// The provider refused the input (another 4xx), with its reason.
    BadInput {
        status: u16,
        message: String,
    },
    /// Credits pay, but this server has no provider account to route the call through.
    NoPlatformKey,
    /// The request would have left the provider's configured base URL, so it was not sent.
    OffBase,
}

impl RunFailure {
    /// The short code usage records and API answers carry.
    pub fn code(&self) -> &'static str {
        match self {
            Self::ServerError(_) => "provider_error",
            Self::Timeout => "provider_timeout",
            Self::Network => "provider_unreachable",
            Self::KeyRefused => "key_refused",
            Self::BadInput { .. } => "provider_rejected_input",
            Self::NoPlatformKey => "no_platform_account",
            Self::OffBase => "provider_url_refused",
        }
    }
}
/// Where the sandbox's OpenRouter consent page is served.
pub const SANDBOX_OPENROUTER_PATH: &str = "/sandbox/openrouter/auth";

impl Providers {
    pub fn new(config: &Config, secret: &[u8]) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(20))
            // Keys travel in headers: never follow a redirect to another host with them.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tollgate/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let endpoint = |configured: &Option<Url>, default: &str| match configured {
            Some(url) => Endpoint::Http(Base::new(url.clone())),
            None if config.sandbox => Endpoint::Sandbox,
            None => Endpoint::Http(Base::new(Url::parse(default).expect("a valid default URL"))),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                fal: endpoint(&config.fal_api_base, FAL_DEFAULT),
                fal_run: endpoint(&config.fal_run_base, FAL_RUN_DEFAULT),
                fal_queue: endpoint(&config.fal_queue_base, FAL_QUEUE_DEFAULT),
                fal_platform_key: config.fal_platform_key.as_ref().map(|k| String::from_utf8_lossy(&k.0).into_owned()),
                openrouter_platform_key: config
                    .openrouter_platform_key
                    .as_ref()
                    .map(|k| String::from_utf8_lossy(&k.0).into_owned()),
                openrouter: endpoint(&config.openrouter_base, OPENROUTER_DEFAULT),
                public_url: config.public_url.clone(),
                sandbox: sandbox::Sandbox::new(secret),
            }),
        })
    }

    /// Whether `provider` is played by the built-in sandbox.
    pub fn is_sandbox(&self, provider: Provider) -> bool {
        matches!(self.endpoint(provider), Endpoint::Sandbox)
    }

    /// Whether model runs are played by the built-in sandbox (which can fail on request).
    pub fn is_sandbox_runs(&self) -> bool {
        matches!(self.inner.fal_run, Endpoint::Sandbox)
    }

    fn endpoint(&self, provider: Provider) -> &Endpoint {
        match provider {
            Provider::Fal => &self.inner.fal,
            Provider::OpenRouter => &self.inner.openrouter,
        }
    }

    /// Asks the provider whether `key` works, with a request that costs nothing.
    pub async fn check_key(&self, provider: Provider, key: &str) -> KeyCheck {
        let base = match self.endpoint(provider) {
            Endpoint::Sandbox => return self.inner.sandbox.check_key(key),
            Endpoint::Http(base) => base,
        };
        let path: &[&str] = match provider {
            Provider::Fal => &["v1", "models"],
            Provider::OpenRouter => &["api", "v1", "key"],
        };
        let Ok(url) = base.guard(base.at(path.iter().copied())) else {
            return KeyCheck::Unreachable(format!("{} could not be asked", provider.label()));
        };
        let request = match provider {
            // fal: listing models with the key; a refused key gets 401.
            Provider::Fal => self
                .inner
                .http
                .get(url)
                .query(&[("limit", "1")])
                .header(reqwest::header::AUTHORIZATION, format!("Key {key}")),
            // OpenRouter: the key's own details.
            Provider::OpenRouter => self.inner.http.get(url).bearer_auth(key),
        };
        match request.send().await {
            Ok(res) if res.status().is_success() => KeyCheck::Valid,
            Ok(res) if matches!(res.status().as_u16(), 401 | 403) => KeyCheck::Rejected,
            Ok(res) => KeyCheck::Unreachable(format!("{} answered HTTP {}", provider.label(), res.status().as_u16())),
            Err(e) => {
                tracing::warn!(provider = provider.as_str(), error = %without_url(&e), "key check failed");
                KeyCheck::Unreachable(format!("{} could not be reached", provider.label()))
            }
        }
    }

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

    /// Runs a fal model and returns its output. `own_key` is the caller's key; without one
    /// the call is routed through this platform's fal account.
    pub async fn run_fal(
        &self,
        endpoint_id: &EndpointId,
        own_key: Option<&str>,
        input: &serde_json::Value,
    ) -> Result<serde_json::Value, RunFailure> {
        let base = match &self.inner.fal_run {
            Endpoint::Sandbox => return self.inner.sandbox.run(endpoint_id.as_str(), input).await,
            Endpoint::Http(base) => base,
        };
        let key = match own_key.or(self.inner.fal_platform_key.as_deref()) {
            Some(k) => k,
            None => return Err(RunFailure::NoPlatformKey),
        };
        let url = base.guard(base.at(endpoint_id.segments()))?;
        let request =
            self.inner.http.post(url).header(reqwest::header::AUTHORIZATION, format!("Key {key}")).json(input);
        send_run(request, endpoint_id.as_str()).await
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

/// Width and height of fal's named `image_size` values.
pub fn fal_image_size(name: &str) -> Option<(u64, u64)> {
    Some(match name {
        "square_hd" => (1024, 1024),
        "square" => (512, 512),
        "portrait_4_3" => (768, 1024),
        "portrait_16_9" => (576, 1024),
        "landscape_4_3" => (1024, 768),
        "landscape_16_9" => (1024, 576),
        _ => return None,
    })
}

/// Sends a model call and reads the answer: the output, or why there is none.
async fn send_run(request: reqwest::RequestBuilder, what: &str) -> Result<serde_json::Value, RunFailure> {
    let res = request.timeout(RUN_TIMEOUT).send().await.map_err(|e| {
        tracing::warn!(model = what, error = %without_url(&e), "provider call failed");
        if e.is_timeout() { RunFailure::Timeout } else { RunFailure::Network }
    })?;
    let status = res.status().as_u16();
    match status {
        200..=299 => res.json().await.map_err(|_| RunFailure::ServerError(status)),
        401 | 403 => Err(RunFailure::KeyRefused),
        400..=499 => {
            let text = res.text().await.unwrap_or_default();
            Err(RunFailure::BadInput { status, message: provider_message(&text) })
        }
        _ => Err(RunFailure::ServerError(status)),
    }
}

/// A reqwest error without its URL (which may carry a code).
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    text
}

/// A short, printable reason from a provider's error body (`{"error":{"message":...}}`).
fn provider_message(body: &str) -> String {
    let parsed: Option<String> = serde_json::from_str::<serde_json::Value>(body).ok().and_then(|v| {
        v.pointer("/error/message")
            .or_else(|| v.pointer("/message"))
            .or_else(|| v.pointer("/detail"))
            .and_then(|m| m.as_str())
            .map(str::to_string)
    });
    let text = parsed.unwrap_or_else(|| "no reason given".into());
    text.chars().filter(|c| !c.is_control()).take(200).collect()
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

    fn base(url: &str) -> Base {
        Base::new(Url::parse(url).unwrap())
    }

    #[test]
    fn urls_are_built_under_the_base_path() {
        let prefixed = base("http://127.0.0.1:9/prefix");
        assert_eq!(prefixed.at(["api", "v1", "key"]).as_str(), "http://127.0.0.1:9/prefix/api/v1/key");
        assert_eq!(base("https://openrouter.ai/").at(["auth"]).as_str(), "https://openrouter.ai/auth");
        let id = EndpointId::parse("fal-ai/flux/schnell").unwrap();
        assert_eq!(base("https://fal.run/").at(id.segments()).as_str(), "https://fal.run/fal-ai/flux/schnell");
    }

    #[test]
    fn a_segment_cannot_leave_the_base() {
        let b = base("http://127.0.0.1:9/prefix/");
        for hostile in ["http://127.0.0.1:1/steal", "//evil.example/x", "../../steal", "a/../../b", "?q", "#f", "%2F"] {
            let url = b.at([hostile]);
            assert!(b.contains(&url), "{hostile} gave {url}");
            assert_eq!(url.host_str(), Some("127.0.0.1"));
            assert_eq!(url.port(), Some(9));
            assert!(url.path().starts_with("/prefix/"), "{url}");
            assert!(url.query().is_none() && url.fragment().is_none(), "{url}");
        }
    }

    #[test]
    fn only_urls_under_the_base_are_contained() {
        let b = base("http://127.0.0.1:9/prefix/");
        let yes = |u: &str| b.contains(&Url::parse(u).unwrap());
        assert!(yes("http://127.0.0.1:9/prefix/fal-ai/flux"));
        assert!(!yes("http://127.0.0.1:10/prefix/fal-ai/flux"), "another port");
        assert!(!yes("https://127.0.0.1:9/prefix/fal-ai/flux"), "another scheme");
        assert!(!yes("http://localhost:9/prefix/fal-ai/flux"), "another host");
        assert!(!yes("http://127.0.0.1:9/prefixed/x"), "a sibling path");
        assert!(!yes("http://127.0.0.1:9/other"), "outside the path");
        assert!(!yes("http://u:p@127.0.0.1:9/prefix/x"), "credentials");
        assert!(!yes("http://127.0.0.1:9/prefix/../x"), "climbing out");
        assert!(b.guard(Url::parse("http://evil.example/prefix/x").unwrap()).is_err());
    }

    #[test]
    fn the_s256_challenge_matches_rfc_7636() {
        // The example from RFC 7636, appendix B.
        assert_eq!(s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn provider_messages_are_short_and_plain() {
        assert_eq!(provider_message(r#"{"error":{"message":"Invalid code","code":403}}"#), "Invalid code");
        assert_eq!(provider_message("<html>"), "no reason given");
        assert_eq!(provider_message(&format!(r#"{{"message":"{}"}}"#, "x".repeat(500))).len(), 200);
    }
}
