//! The HTTP side of the client: which server and token to use, sending requests, and
//! turning error answers into failures.

use std::time::Duration;

use serde_json::Value;

use super::login::stored_login;
use super::output::dollars4;
use super::{Failure, Outcome, env, exit};

/// A client for one server: the environment first, then what `login` stored.
pub struct Client {
    pub(super) base: url::Url,
    pub(super) token: String,
    pub(super) http: reqwest::Client,
}

pub(super) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(300))
        .user_agent(concat!("tollgate-cli/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("an HTTP client")
}

pub(super) fn parse_base(raw: &str) -> Outcome<url::Url> {
    let mut url = url::Url::parse(raw.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| {
            Failure::new(exit::USAGE, format!("`{raw}` is not a server address like https://tollgate.example.com"))
        })?;
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

impl Client {
    pub fn from_settings() -> Outcome<Self> {
        let (stored_url, stored_token) = stored_login();
        let url = env("TOLLGATE_URL")
            .or(stored_url)
            .ok_or_else(|| Failure::new(exit::USAGE, "no server: set TOLLGATE_URL or run tollgate login"))?;
        let token = env("TOLLGATE_TOKEN")
            .or(stored_token)
            .ok_or_else(|| Failure::new(exit::USAGE, "no API token: set TOLLGATE_TOKEN or run tollgate login"))?;
        Ok(Self { base: parse_base(&url)?, token, http: http_client() })
    }

    pub(super) fn url(&self, path: &str) -> url::Url {
        self.base.join(path.trim_start_matches('/')).expect("a relative path joins")
    }

    /// Sends a request and reads the JSON answer; HTTP errors become failures.
    pub(super) async fn send(&self, request: reqwest::RequestBuilder) -> Outcome<(u16, Value)> {
        let res = request.bearer_auth(&self.token).send().await.map_err(|e| {
            let why = if e.is_timeout() { "it did not answer in time" } else { "no answer" };
            Failure::new(exit::UNREACHABLE, format!("cannot reach the server at {} ({why})", self.base))
        })?;
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok((status, body));
        }
        Err(http_failure(status, &body))
    }

    pub(super) async fn get(&self, path: &str) -> Outcome<Value> {
        self.send(self.http.get(self.url(path))).await.map(|(_, v)| v)
    }
}

pub(super) fn http_failure(status: u16, body: &Value) -> Failure {
    let message = body.get("message").and_then(Value::as_str).unwrap_or("").trim().to_string();
    match status {
        401 => Failure::new(
            exit::UNAUTHORIZED,
            "the server refused the API token (401); run tollgate login with a working token",
        ),
        402 => {
            let limit = body.get("limit").and_then(Value::as_str).unwrap_or("balance");
            let what = match limit {
                "run_cap" => "over the run's cap (TOLLGATE_MAX_USD_PER_RUN)".to_string(),
                "token_budget" | "member_budget" | "team_budget" => format!(
                    "over the {} ({} budget)",
                    limit.replace('_', " "),
                    body["window"].as_str().map_or("its".to_string(), |w| if w == "total" {
                        "total".into()
                    } else {
                        format!("per-{w}")
                    })
                ),
                _ => "insufficient credits".to_string(),
            };
            let amounts = match (body["needed_micros"].as_i64(), body["available_micros"].as_i64()) {
                (Some(n), Some(a)) => format!(": this needs {} and {} is available", dollars4(n), dollars4(a)),
                _ => String::new(),
            };
            Failure::new(exit::PAYMENT_REQUIRED, format!("{what}{amounts} (402)"))
        }
        _ => {
            let field = body.pointer("/error/field").and_then(Value::as_str);
            let text = match (field, message.is_empty()) {
                (Some(f), false) => format!("{f}: {message}"),
                (None, false) => message,
                _ => format!("the server answered HTTP {status}"),
            };
            Failure::new(exit::FAILED, format!("{text} ({status})"))
        }
    }
}
