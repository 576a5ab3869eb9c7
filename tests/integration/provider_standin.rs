//! A local stand-in for the parts of fal and OpenRouter that key checks and the OpenRouter
//! PKCE flow use, speaking their wire format:
//! - fal `GET /v1/models` with `Authorization: Key <key>`: 200, or 401 for unknown keys;
//! - OpenRouter `GET /api/v1/key` with a bearer key: 200 `{"data":{...}}`, or 401;
//! - OpenRouter `GET /auth?callback_url&code_challenge&code_challenge_method`: the consent
//!   page, answered at once with a redirect to the callback carrying `code` (or `error`);
//! - OpenRouter `POST /api/v1/auth/keys` `{code, code_verifier, code_challenge_method}`:
//!   `{"key": "...", "user_id": "..."}` when SHA-256(verifier) matches the challenge the
//!   code was issued for, each code once;
//! - fal's queue under `/queue/`: `POST /queue/{model}` answers `{request_id, status_url,
//!   response_url}`; `GET /queue/{app}/requests/{id}/status` answers `IN_QUEUE`, then
//!   `IN_PROGRESS` with logs, then `COMPLETED` with `metrics.inference_time`; and
//!   `GET /queue/{app}/requests/{id}` the output (or a 500 when the input said `"fail"`).
//!   Requests are visible only with the key that submitted them, as at fal.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use sha2::Digest;

pub const FAL_KEY: &str = "3f1c2a9e-1b2c-4d5e-8f90-0123456789ab:0123456789abcdef0123456789ab1234";
/// The platform's own fal account key, accepted by the stand-in's model runs.
pub const PLATFORM_FAL_KEY: &str = "platform-0000-1111:platformsecret0123456789";
/// The platform's own OpenRouter key.
pub const PLATFORM_OPENROUTER_KEY: &str = "sk-or-v1-platform00000000000000000000000000000000000001";
pub const OPENROUTER_KEY: &str = "sk-or-v1-0123456789abcdef0123456789abcdef0123456789abcdef01234567";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consent {
    Approve,
    Deny,
    /// Approves, but the key exchange then fails with a server error.
    FailExchange,
}

#[derive(Default)]
struct Inner {
    valid_keys: HashSet<String>,
    codes: HashMap<String, String>,
    consent: Option<Consent>,
    exchanges: Vec<serde_json::Value>,
    key_checks: usize,
    issued: Vec<String>,
    /// The key each model run was called with.
    runs: Vec<String>,
    jobs: HashMap<String, QueuedJob>,
    /// Status checks to answer with 503 before answering properly.
    status_errors: u32,
    /// The key each queue status or result request came with.
    queue_reads: Vec<String>,
}

#[derive(Clone)]
struct QueuedJob {
    input: serde_json::Value,
    key: String,
    polls: u32,
}

#[derive(Clone)]
pub struct ProviderStandIn {
    inner: Arc<Mutex<Inner>>,
    pub addr: SocketAddr,
    /// While true, fal model runs wait before answering (a slow model), so calls stay in
    /// flight as long as a test needs.
    held: Arc<tokio::sync::watch::Sender<bool>>,
    /// Model runs waiting now.
    waiting: Arc<std::sync::atomic::AtomicUsize>,
}

impl ProviderStandIn {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            valid_keys: [
                FAL_KEY.to_string(),
                OPENROUTER_KEY.to_string(),
                PLATFORM_FAL_KEY.to_string(),
                PLATFORM_OPENROUTER_KEY.to_string(),
            ]
            .into(),
            consent: Some(Consent::Approve),
            ..Default::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let held = Arc::new(tokio::sync::watch::Sender::new(false));
        let standin = Self { inner, addr, held, waiting: Arc::default() };
        let app = Router::new()
            .route("/v1/models", get(fal_models))
            .route("/api/v1/key", get(openrouter_key))
            .route("/auth", get(consent))
            .route("/api/v1/auth/keys", post(exchange))
            .route("/fal-ai/{*model}", post(fal_run))
            .route("/api/v1/chat/completions", post(chat))
            .route("/queue/{*path}", post(queue_submit).get(queue_read))
            .with_state(standin.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        standin
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Settings that point both providers here.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        vec![("TOLLGATE_FAL_API_BASE", self.url()), ("TOLLGATE_OPENROUTER_BASE", self.url())]
    }

    /// Settings that send fal's queue here, paid by the platform key.
    pub fn queue_settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("TOLLGATE_FAL_API_BASE", self.url()),
            ("TOLLGATE_FAL_QUEUE_BASE", format!("{}queue/", self.url())),
            ("TOLLGATE_FAL_PLATFORM_KEY", PLATFORM_FAL_KEY.to_string()),
        ]
    }

    /// The next `n` queue status checks fail with 503.
    /// Model runs wait from now on until [`Self::release_runs`].
    pub fn hold_runs(&self) {
        self.held.send_replace(true);
    }

    pub fn release_runs(&self) {
        self.held.send_replace(false);
    }

    /// How many model runs are waiting to be released.
    pub fn waiting_runs(&self) -> usize {
        self.waiting.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn fail_status_checks(&self, n: u32) {
        self.inner.lock().unwrap().status_errors = n;
    }

    /// The keys queue status and result requests came with.
    pub fn queue_reads(&self) -> Vec<String> {
        self.inner.lock().unwrap().queue_reads.clone()
    }

    /// The keys model runs were called with, in order.
    pub fn runs(&self) -> Vec<String> {
        self.inner.lock().unwrap().runs.clone()
    }

    pub fn revoke(&self, key: &str) {
        self.inner.lock().unwrap().valid_keys.remove(key);
    }

    pub fn set_consent(&self, consent: Consent) {
        self.inner.lock().unwrap().consent = Some(consent);
    }

    pub fn exchanges(&self) -> Vec<serde_json::Value> {
        self.inner.lock().unwrap().exchanges.clone()
    }

    pub fn key_checks(&self) -> usize {
        self.inner.lock().unwrap().key_checks
    }

    pub fn issued(&self) -> Vec<String> {
        self.inner.lock().unwrap().issued.clone()
    }
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(serde_json::json!({ "error": { "message": "No auth credentials found", "code": 401 } })),
    )
        .into_response()
}

async fn fal_models(State(s): State<ProviderStandIn>, headers: HeaderMap) -> Response {
    let key = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Key "));
    let mut inner = s.inner.lock().unwrap();
    inner.key_checks += 1;
    match key {
        Some(k) if inner.valid_keys.contains(k) => {
            Json(serde_json::json!({ "models": [{ "endpoint_id": "fal-ai/flux/schnell" }], "has_more": true }))
                .into_response()
        }
        _ => (StatusCode::UNAUTHORIZED, Json(serde_json::json!({ "detail": "Unauthorized" }))).into_response(),
    }
}

async fn openrouter_key(State(s): State<ProviderStandIn>, headers: HeaderMap) -> Response {
    let key = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let mut inner = s.inner.lock().unwrap();
    inner.key_checks += 1;
    match key {
        Some(k) if inner.valid_keys.contains(k) => {
            Json(serde_json::json!({ "data": { "label": "sk-or-v1-012...567", "usage": 0, "limit": null } }))
                .into_response()
        }
        _ => unauthorized(),
    }
}

async fn consent(State(s): State<ProviderStandIn>, Query(q): Query<HashMap<String, String>>) -> Response {
    let Some(callback) = q.get("callback_url") else {
        return (StatusCode::BAD_REQUEST, "callback_url is required").into_response();
    };
    if q.get("code_challenge_method").map(String::as_str) != Some("S256") {
        return (StatusCode::BAD_REQUEST, "S256 expected").into_response();
    }
    let sep = if callback.contains('?') { '&' } else { '?' };
    let mut inner = s.inner.lock().unwrap();
    match inner.consent.unwrap_or(Consent::Approve) {
        Consent::Deny => Redirect::to(&format!("{callback}{sep}error=access_denied")).into_response(),
        _ => {
            let code = format!("code-{}", inner.codes.len() + inner.exchanges.len() + 1);
            inner.codes.insert(code.clone(), q.get("code_challenge").cloned().unwrap_or_default());
            Redirect::to(&format!("{callback}{sep}code={code}")).into_response()
        }
    }
}

async fn exchange(State(s): State<ProviderStandIn>, Json(body): Json<serde_json::Value>) -> Response {
    let mut inner = s.inner.lock().unwrap();
    inner.exchanges.push(body.clone());
    if inner.consent == Some(Consent::FailExchange) {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({ "error": { "message": "Internal error" } })),
        )
            .into_response();
    }
    let code = body["code"].as_str().unwrap_or_default();
    let verifier = body["code_verifier"].as_str().unwrap_or_default();
    let challenge = inner.codes.remove(code);
    let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    if challenge.as_deref() != Some(expected.as_str()) || body["code_challenge_method"] != "S256" {
        return (
            StatusCode::FORBIDDEN,
            Json(serde_json::json!({ "error": { "message": "Invalid code", "code": 403 } })),
        )
            .into_response();
    }
    let key = format!("sk-or-v1-issued{:048x}", inner.issued.len() + 1);
    inner.issued.push(key.clone());
    inner.valid_keys.insert(key.clone());
    Json(serde_json::json!({ "key": key, "user_id": "user_standin" })).into_response()
}

/// fal's synchronous run (`POST https://fal.run/{model}`): images for the input, 401 for
/// an unknown key, and a 500 when the input says `"fail": true`.
async fn fal_run(
    State(s): State<ProviderStandIn>,
    headers: HeaderMap,
    Json(input): Json<serde_json::Value>,
) -> Response {
    if *s.held.borrow() {
        use std::sync::atomic::Ordering;
        s.waiting.fetch_add(1, Ordering::SeqCst);
        let mut released = s.held.subscribe();
        let _ = released.wait_for(|held| !*held).await;
        s.waiting.fetch_sub(1, Ordering::SeqCst);
    }
    let key = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Key "));
    let mut inner = s.inner.lock().unwrap();
    let Some(key) = key.filter(|k| inner.valid_keys.contains(*k)).map(str::to_string) else {
        return (StatusCode::UNAUTHORIZED, Json(serde_json::json!({ "detail": "Unauthorized" }))).into_response();
    };
    inner.runs.push(key);
    if input["fail"] == true {
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(serde_json::json!({ "detail": "Internal Server Error" })))
            .into_response();
    }
    let n = input["num_images"].as_u64().unwrap_or(1);
    let images: Vec<serde_json::Value> = (0..n)
        .map(|i| serde_json::json!({ "url": format!("https://fal.media/files/standin/{i}.png"), "width": 1024, "height": 768, "content_type": "image/png" }))
        .collect();
    Json(serde_json::json!({ "images": images, "seed": 42, "has_nsfw_concepts": [false] })).into_response()
}

/// OpenRouter's chat completions with usage accounting: the answer's `usage.cost` is
/// what the call cost, in dollars.
async fn chat(State(s): State<ProviderStandIn>, headers: HeaderMap, Json(body): Json<serde_json::Value>) -> Response {
    let key = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let mut inner = s.inner.lock().unwrap();
    let Some(key) = key.filter(|k| inner.valid_keys.contains(*k)).map(str::to_string) else {
        return unauthorized();
    };
    inner.runs.push(key);
    if body["usage"]["include"] != true || body["model"].as_str().is_none() {
        return (StatusCode::BAD_REQUEST, Json(serde_json::json!({ "error": { "message": "bad request" } })))
            .into_response();
    }
    Json(serde_json::json!({
        "id": "gen-standin-1",
        "model": body["model"],
        "object": "chat.completion",
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": "Hello!" }, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20, "cost": 0.00042 }
    }))
    .into_response()
}

fn fal_key(headers: &HeaderMap) -> Option<String> {
    headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Key ")).map(str::to_string)
}

/// `POST /queue/{model}`: queues the input.
async fn queue_submit(
    State(s): State<ProviderStandIn>,
    axum::extract::Path(path): axum::extract::Path<String>,
    headers: HeaderMap,
    Json(input): Json<serde_json::Value>,
) -> Response {
    let mut inner = s.inner.lock().unwrap();
    let Some(key) = fal_key(&headers).filter(|k| inner.valid_keys.contains(k)) else {
        return (StatusCode::UNAUTHORIZED, Json(serde_json::json!({ "detail": "Unauthorized" }))).into_response();
    };
    inner.runs.push(key.clone());
    let id = format!("req-{:04}", inner.jobs.len() + 1);
    inner.jobs.insert(id.clone(), QueuedJob { input, key, polls: 0 });
    let app: Vec<&str> = path.splitn(3, '/').take(2).collect();
    let base = format!("{}queue/{}/requests/{id}", s.url(), app.join("/"));
    Json(serde_json::json!({
        "request_id": id,
        "status_url": format!("{base}/status"),
        "response_url": base,
        "cancel_url": format!("{base}/cancel"),
        "queue_position": 0,
    }))
    .into_response()
}

/// `GET /queue/{app}/requests/{id}/status` and `GET /queue/{app}/requests/{id}`.
async fn queue_read(
    State(s): State<ProviderStandIn>,
    axum::extract::Path(path): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    let not_found =
        || (StatusCode::NOT_FOUND, Json(serde_json::json!({ "detail": "Request not found" }))).into_response();
    let (rest, wants_status) = match path.strip_suffix("/status") {
        Some(rest) => (rest, true),
        None => (path.as_str(), false),
    };
    let Some((_, id)) = rest.rsplit_once("/requests/") else { return not_found() };
    let mut inner = s.inner.lock().unwrap();
    let key = fal_key(&headers).unwrap_or_default();
    inner.queue_reads.push(key.clone());
    let Some(job) = inner.jobs.get(id).cloned() else { return not_found() };
    if job.key != key {
        return (StatusCode::UNAUTHORIZED, Json(serde_json::json!({ "detail": "Unauthorized" }))).into_response();
    }
    if wants_status {
        if inner.status_errors > 0 {
            inner.status_errors -= 1;
            return (StatusCode::SERVICE_UNAVAILABLE, "upstream busy").into_response();
        }
        let polls = job.polls + 1;
        inner.jobs.get_mut(id).unwrap().polls = polls;
        let machine = job.input["machine_seconds"].as_f64().unwrap_or(4.25);
        return match polls {
            1 => (StatusCode::ACCEPTED, Json(serde_json::json!({ "status": "IN_QUEUE", "queue_position": 2 }))).into_response(),
            2 => (
                StatusCode::ACCEPTED,
                Json(serde_json::json!({
                    "status": "IN_PROGRESS",
                    "logs": [{ "message": "Loading model", "level": "INFO", "timestamp": "2026-11-21T10:00:00Z" },
                             { "message": "Generating frames 40%", "level": "INFO", "timestamp": "2026-11-21T10:00:01Z" }]
                })),
            )
                .into_response(),
            _ => Json(serde_json::json!({ "status": "COMPLETED", "logs": [], "metrics": { "inference_time": machine } }))
                .into_response(),
        };
    }
    if job.polls < 3 {
        return (StatusCode::BAD_REQUEST, Json(serde_json::json!({ "detail": "Request is still in progress" })))
            .into_response();
    }
    if job.input["fail"] == true {
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(serde_json::json!({ "detail": "Internal Server Error" })))
            .into_response();
    }
    Json(serde_json::json!({
        "video": { "url": "https://fal.media/files/standin/video.mp4", "content_type": "video/mp4", "file_size": 1048576 },
        "seed": 7
    }))
    .into_response()
}
