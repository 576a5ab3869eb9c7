//! The AI providers Tollgate talks to for people: checking their keys and connecting
//! OpenRouter accounts. Each provider is either reached over HTTP at its configured base
//! URL (the real service, or a stand-in in tests) or, in sandbox mode without a base URL,
//! played by the built-in sandbox so nothing leaves the machine.

mod base;
mod calls;
mod failure;
mod fal;
mod openrouter;
mod queue;
mod sandbox;

pub use base::Base;
pub use failure::{ExchangeError, KeyCheck, RunFailure};
pub use fal::fal_image_size;
pub use openrouter::{SANDBOX_OPENROUTER_PATH, s256};
pub use queue::{QueueState, QueueTicket};

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use base::Endpoint;
use calls::{provider_message, send_run, without_url};

use crate::server::infra::config::Config;
use crate::shared::dto::keys::Provider;

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
}
