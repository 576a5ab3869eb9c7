//! The metering gateway's entry points: `POST /api/v1/run/{endpoint_id}` runs a call and
//! answers with its output; `POST /api/v1/queue/{endpoint_id}` queues a long one (video)
//! and `GET /api/v1/jobs/{job_id}` follows it.
//!
//! `?dryRun=true` prices the call from its input and says who would pay (the caller's own
//! key for the provider, or their credits), runs nothing and holds nothing. A caller
//! whose credits do not cover the estimate, with no working key for the provider, gets
//! 402 naming the limit and the amounts.

mod answer;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Extension, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::server::infra::state::AppState;
use crate::server::services::gateway::answer as gateway_answer;
use crate::server::services::gateway::replay::{self, Earlier};
use crate::server::services::gateway::request::{CallRequest, Outcome};
use crate::server::services::gateway::{jobs, run, run_cap};
use crate::server::services::wallets::Acting;
use crate::server::web::guard::bad_param;
use crate::server::web::guard::{ApiCaller, ApiError, ApiUser};
use crate::server::web::middleware::RefusedRequestId;
use crate::shared::dto::keys::Provider;
use crate::shared::endpoint::EndpointId;
use crate::shared::error::AppError;
use crate::shared::money::Micros;

pub use answer::{REPLAYED_HEADER, payment_required};

/// A fal key of the caller's own that pays for this one call, never stored.
pub const CALL_KEY_HEADER: &str = "tollgate-fal-key";

#[derive(Deserialize)]
pub struct RunQuery {
    #[serde(rename = "dryRun")]
    dry_run: Option<String>,
}

/// A service's refusal of what the caller sent, as the API answers it: a bad field is a
/// 400 naming it, missing credits a 402.
fn refused(e: AppError) -> Response {
    match e {
        AppError::Validation { field, message, .. } => bad_param(&field, message),
        AppError::InsufficientCredits { needed_micros, available_micros } => {
            payment_required("balance", Micros(needed_micros), Micros(available_micros))
        }
        e => ApiError(e).into_response(),
    }
}

/// The route a call came by, part of what a request id stands for.
#[derive(Clone, Copy)]
enum Route {
    Run,
    Queue,
}

impl Route {
    fn as_str(self) -> &'static str {
        match self {
            Self::Run => "run",
            Self::Queue => "queue",
        }
    }
}

/// Reads the endpoint and the body (the provider input).
fn read_input(endpoint_id: &str, body: &Bytes) -> Result<(EndpointId, Value), Response> {
    // Parsed before anything else: the id becomes part of the provider's URL.
    let endpoint_id = EndpointId::parse(endpoint_id).map_err(|e| bad_param("endpoint_id", e.to_string()))?;
    let input: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(body)
            .map_err(|e| bad_param("input", format!("The body must be the provider input as JSON ({e}).")))?
    };
    Ok((endpoint_id, input))
}

/// Prices the call and decides who pays (a key sent with the call, or as for any call).
async fn price_call(
    state: &AppState,
    acting: &Acting,
    request_id: String,
    endpoint_id: &EndpointId,
    input: Value,
    headers: &HeaderMap,
) -> Result<CallRequest, Response> {
    let request = match headers.get(CALL_KEY_HEADER) {
        // A key of the caller's own for this call only: it pays, so no credit check.
        Some(raw) => {
            let bad = |m: String| bad_param("Tollgate-Fal-Key", m);
            let raw = raw.to_str().map_err(|_| bad("Tollgate-Fal-Key must be plain text.".into()))?;
            let key = Provider::Fal.check_format(raw).map_err(|e| bad(e.to_string()))?;
            CallRequest::with_call_key(state, acting, request_id, endpoint_id, input, key).await
        }
        None => CallRequest::prepare(state, acting, request_id, endpoint_id, input).await,
    };
    match request {
        Ok(request) => Ok(request),
        Err(AppError::InsufficientCredits { needed_micros, available_micros }) => Err(payment_required(
            limit_for(state, acting.owner_id()).await,
            Micros(needed_micros),
            Micros(available_micros),
        )),
        Err(e) => Err(refused(e)),
    }
}

/// Which limit a call that the money does not cover ran into: a postpaid account's unpaid
/// invoice or credit limit, or a prepaid wallet's balance.
async fn limit_for(state: &AppState, user_id: &str) -> &'static str {
    let now = crate::server::infra::installation::now_ms();
    match state.ledger.balance_of(user_id).await {
        Ok(b) if b.credit_limit.is_positive() || b.credit_used.is_positive() => {
            match crate::server::services::payments::invoices::overdue(&state.db, user_id, now).await {
                Ok(true) => "unpaid_invoice",
                _ => "credit_limit",
            }
        }
        _ => "balance",
    }
}

/// How a call ended, as the API answers it, naming the limit a refusal ran into. A
/// request id taken meanwhile (a retry sent while the first was starting) gets the first
/// call's answer.
async fn answer_outcome(state: &AppState, outcome: Outcome, request: &CallRequest) -> Response {
    match outcome {
        Outcome::Insufficient { needed, available } => {
            payment_required(limit_for(state, request.wallet_owner()).await, needed, available)
        }
        Outcome::Repeated => {
            let digest = request.digest.as_deref().unwrap_or_default();
            match replay::earlier(state, &request.user_id, &request.request_id, digest, replay::RETRY_WAITS).await {
                Ok(earlier) => answer::earlier(earlier, &request.request_id),
                Err(e) => ApiError(e).into_response(),
            }
        }
        outcome => answer::outcome(outcome, &request.request_id),
    }
}

fn is_dry_run(q: &RunQuery) -> Result<bool, Response> {
    match q.dry_run.as_deref() {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(_) => Err(bad_param("dryRun", "dryRun must be true or false.")),
    }
}

/// What `/run` and `/queue` share before any work: the call, read and priced, with its
/// run cap. A dry run's estimate, a bad parameter, missing credits, or the answer to a
/// retry of an earlier call is the answer instead (`Err`).
#[allow(clippy::too_many_arguments)]
async fn ready_call(
    state: &AppState,
    acting: &Acting,
    route: Route,
    refused_id: bool,
    endpoint_id: Result<Path<String>, PathRejection>,
    q: &RunQuery,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<CallRequest, Response> {
    let Ok(Path(endpoint_id)) = endpoint_id else {
        return Err(bad_param("endpoint_id", "The endpoint id must be a plain model path, e.g. fal-ai/flux/schnell."));
    };
    let dry_run = is_dry_run(q)?;
    if !dry_run && let Err(e) = acting.check_spend() {
        return Err(ApiError(e).into_response());
    }
    if refused_id {
        // A retry under a replaced id would run the call again: refuse it instead.
        return Err(bad_param(
            "X-Request-Id",
            "X-Request-Id must be 1 to 64 letters, digits, '-', '_' or '.', so a retry under it is recognised.",
        ));
    }
    let (endpoint_id, input) = read_input(&endpoint_id, body)?;
    let request_id = request_id_of(headers);
    let digest = replay::digest(route.as_str(), &endpoint_id, &input);
    // A retry is answered before anything is priced: the balance may have changed since.
    let rerun_of = if dry_run {
        None
    } else {
        match replay::earlier(state, &acting.user.id, &request_id, &digest, replay::RETRY_WAITS).await {
            Ok(Earlier::None) => None,
            Ok(Earlier::CutOff { call_id }) => Some(call_id),
            Ok(earlier) => return Err(answer::earlier(earlier, &request_id)),
            Err(e) => return Err(ApiError(e).into_response()),
        }
    };
    let mut request = price_call(state, acting, request_id, &endpoint_id, input, headers).await?;
    if dry_run {
        return Err(answer::dry_run(&request));
    }
    request.run = run_cap::from_headers(headers).map_err(refused)?;
    request.digest = Some(digest);
    request.rerun_of = rerun_of;
    Ok(request)
}

/// `POST /api/v1/run/{endpoint_id}`: runs the call and answers with its output. A retry
/// under the same `X-Request-Id` gets the first call's answer.
pub async fn run(
    State(state): State<AppState>,
    ApiCaller { acting, token_id }: ApiCaller,
    refused_id: Option<Extension<RefusedRequestId>>,
    endpoint_id: Result<Path<String>, PathRejection>,
    Query(q): Query<RunQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let refused_id = refused_id.is_some();
    let mut request = match ready_call(&state, &acting, Route::Run, refused_id, endpoint_id, &q, &headers, &body).await
    {
        Ok(request) => request,
        Err(answer) => return answer,
    };
    // The budgets the call counts against: its token's, and in a team its member's and
    // the team's (those that are set).
    request.budgets = acting.budgets(token_id);
    match run::execute(&state, &request).await {
        Ok(outcome) => answer_outcome(&state, outcome, &request).await,
        Err(e) => ApiError(e).into_response(),
    }
}

/// `POST /api/v1/queue/{endpoint_id}`: queues a long call (video) and answers 202 with
/// the job id and estimate; `GET /api/v1/jobs/{job_id}` follows it.
pub async fn queue(
    State(state): State<AppState>,
    ApiCaller { acting, token_id }: ApiCaller,
    refused_id: Option<Extension<RefusedRequestId>>,
    endpoint_id: Result<Path<String>, PathRejection>,
    Query(q): Query<RunQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let refused_id = refused_id.is_some();
    let mut request =
        match ready_call(&state, &acting, Route::Queue, refused_id, endpoint_id, &q, &headers, &body).await {
            Ok(request) => request,
            Err(answer) => return answer,
        };
    // The budgets the call counts against: its token's, and in a team its member's and
    // the team's (those that are set).
    request.budgets = acting.budgets(token_id);
    match jobs::submit(&state, &request).await {
        Ok(Ok(job)) => answer::kept(&gateway_answer::queued(&job), false),
        Ok(Err(outcome)) => answer_outcome(&state, outcome, &request).await,
        Err(e) => refused(e),
    }
}

/// `GET /api/v1/jobs/{job_id}`: where a queued call stands, and once done its output and
/// cost. Only its owner sees it.
pub async fn job(State(state): State<AppState>, ApiUser(user): ApiUser, Path(job_id): Path<String>) -> Response {
    match jobs::load(&state, &user.id, &job_id).await {
        Ok(job) => Json(gateway_answer::job_json(&job)).into_response(),
        Err(e) => ApiError(e).into_response(),
    }
}

/// The id this request is logged under (set by the request-id layer), as the call's id.
fn request_id_of(headers: &HeaderMap) -> String {
    headers
        .get(crate::server::web::middleware::REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}
