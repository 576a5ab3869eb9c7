//! The metering gateway's entry points: `POST /api/v1/run/{endpoint_id}` runs a call and
//! answers with its output; `POST /api/v1/queue/{endpoint_id}` queues a long one (video)
//! and `GET /api/v1/jobs/{job_id}` follows it.
//!
//! `?dryRun=true` prices the call from its input and says who would pay (the caller's own
//! key for the provider, or their credits), runs nothing and holds nothing. A caller
//! whose credits do not cover the estimate, with no working key for the provider, gets
//! 402 naming the limit and the amounts.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::server::infra::state::AppState;
use crate::server::services::billing::Payer;
use crate::server::services::gateway::estimate::Estimate;
use crate::server::web::api_v1::bad_param;
use crate::server::web::guard::{ApiError, ApiUser};
use crate::shared::dto::keys::Provider;
use crate::shared::endpoint::EndpointId;
use crate::shared::error::AppError;
use crate::shared::money::Micros;

/// A fal key of the caller's own that pays for this one call, never stored.
pub const CALL_KEY_HEADER: &str = "tollgate-fal-key";

#[derive(Deserialize)]
pub struct RunQuery {
    #[serde(rename = "dryRun")]
    dry_run: Option<String>,
}

/// The 402 answer: which limit was hit, and the amounts.
pub fn payment_required(limit: &str, needed: Micros, available: Micros) -> Response {
    let err = AppError::InsufficientCredits { needed_micros: needed.get(), available_micros: available.get() };
    let body = json!({
        "error": err,
        "message": err.to_string(),
        "limit": limit,
        "needed_micros": needed.get(),
        "available_micros": available.get(),
        "needed": needed.to_string(),
        "available": available.to_string(),
    });
    (StatusCode::PAYMENT_REQUIRED, Json(body)).into_response()
}

fn estimate_json(e: &Estimate) -> Value {
    json!({
        "endpoint_id": e.price.endpoint_id,
        "provider": e.price.provider.as_str(),
        "operation": e.price.operation,
        "unit": e.price.unit.as_str(),
        "units": e.units.as_f64(),
        "unit_price": e.price.unit_price.as_usd(),
        "cost_estimate": e.cost.as_usd(),
        "cost_estimate_micros": e.cost.get(),
        "currency": "USD",
    })
}

/// A call's request, read and priced: everything before choosing how to run it.
struct Prepared {
    input: Value,
    estimate: Estimate,
    payer: Payer,
}

/// Reads the endpoint and body, prices the call and decides who pays; a bad parameter or
/// missing credits is the answer.
async fn prepare_call(
    state: &AppState,
    user_id: &str,
    endpoint_id: &str,
    headers: &axum::http::HeaderMap,
    body: &Bytes,
) -> Result<Prepared, Response> {
    // Parsed before anything else: the id becomes part of the provider's URL.
    let endpoint_id = EndpointId::parse(endpoint_id).map_err(|e| bad_param("endpoint_id", e.to_string()))?;
    let input: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(body)
            .map_err(|e| bad_param("input", format!("The body must be the provider input as JSON ({e}).")))?
    };
    if let Some(raw) = headers.get(CALL_KEY_HEADER) {
        // A key of the caller's own for this call only: it pays, so no credit check.
        let bad = |m: String| bad_param("Tollgate-Fal-Key", m);
        let raw = raw.to_str().map_err(|_| bad("Tollgate-Fal-Key must be plain text.".into()))?;
        let key = Provider::Fal.check_format(raw).map_err(|e| bad(e.to_string()))?;
        let price = match crate::server::services::gateway::pricing::price_for(state, user_id, &endpoint_id).await {
            Ok(p) => p.price,
            Err(e) => return Err(ApiError(e).into_response()),
        };
        if price.provider != Provider::Fal {
            return Err(bad("Tollgate-Fal-Key pays for fal endpoints only.".into()));
        }
        let estimate = match crate::server::services::gateway::estimate::estimate(price, &input) {
            Ok(e) => e,
            Err(AppError::Validation { field, message }) => return Err(bad_param(&field, message)),
            Err(e) => return Err(ApiError(e).into_response()),
        };
        return Ok(Prepared { input, estimate, payer: Payer::CallKey(key) });
    }
    match crate::server::services::gateway::run::prepare(state, user_id, &endpoint_id, &input).await {
        Ok((estimate, payer)) => Ok(Prepared { input, estimate, payer }),
        Err(AppError::Validation { field, message }) => Err(bad_param(&field, message)),
        Err(AppError::InsufficientCredits { needed_micros, available_micros }) => {
            Err(payment_required("balance", Micros(needed_micros), Micros(available_micros)))
        }
        Err(e) => Err(ApiError(e).into_response()),
    }
}

fn run_cap_of(
    headers: &axum::http::HeaderMap,
) -> Result<Option<crate::server::services::gateway::run_cap::RunCap>, Response> {
    crate::server::services::gateway::run_cap::from_headers(headers).map_err(|e| match e {
        AppError::Validation { field, message } => bad_param(&field, message),
        e => ApiError(e).into_response(),
    })
}

fn dry_run_answer(p: &Prepared) -> Response {
    let mut answer = estimate_json(&p.estimate);
    answer["dry_run"] = json!(true);
    answer["charged"] = json!(false);
    answer["paid_with"] = json!(p.payer.as_str());
    Json(answer).into_response()
}

fn is_dry_run(q: &RunQuery) -> Result<bool, Response> {
    match q.dry_run.as_deref() {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(_) => Err(bad_param("dryRun", "dryRun must be true or false.")),
    }
}

/// A call ready to run or queue: read, priced, with its run cap and id.
struct Ready {
    p: Prepared,
    run: Option<crate::server::services::gateway::run_cap::RunCap>,
    request_id: String,
}

/// What `/run` and `/queue` share before any work. A dry run's estimate, a bad
/// parameter or missing credits is the answer instead (`Err`).
async fn ready_call(
    state: &AppState,
    user_id: &str,
    endpoint_id: Result<Path<String>, PathRejection>,
    q: &RunQuery,
    headers: &axum::http::HeaderMap,
    body: &Bytes,
) -> Result<Ready, Response> {
    let Ok(Path(endpoint_id)) = endpoint_id else {
        return Err(bad_param("endpoint_id", "The endpoint id must be a plain model path, e.g. fal-ai/flux/schnell."));
    };
    let dry_run = is_dry_run(q)?;
    let p = prepare_call(state, user_id, &endpoint_id, headers, body).await?;
    if dry_run {
        return Err(dry_run_answer(&p));
    }
    let run = run_cap_of(headers)?;
    Ok(Ready { p, run, request_id: request_id_of(headers) })
}

/// `POST /api/v1/run/{endpoint_id}`: runs the call and answers with its output.
pub async fn run(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    endpoint_id: Result<Path<String>, PathRejection>,
    Query(q): Query<RunQuery>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let Ready { p, run, request_id } = match ready_call(&state, &user.id, endpoint_id, &q, &headers, &body).await {
        Ok(ready) => ready,
        Err(answer) => return answer,
    };
    match crate::server::services::gateway::run::execute(
        &state,
        &user.id,
        &request_id,
        &p.estimate,
        &p.payer,
        &p.input,
        run.as_ref(),
    )
    .await
    {
        Ok(outcome) => answer(outcome, &p.estimate, &p.payer, &request_id),
        Err(e) => ApiError(e).into_response(),
    }
}

/// `POST /api/v1/queue/{endpoint_id}`: queues a long call (video) and answers 202 with
/// the job id and estimate; `GET /api/v1/jobs/{job_id}` follows it.
pub async fn queue(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    endpoint_id: Result<Path<String>, PathRejection>,
    Query(q): Query<RunQuery>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let Ready { p, run, request_id } = match ready_call(&state, &user.id, endpoint_id, &q, &headers, &body).await {
        Ok(ready) => ready,
        Err(answer) => return answer,
    };
    match crate::server::services::gateway::jobs::submit(
        &state,
        &user.id,
        &request_id,
        &p.estimate,
        &p.payer,
        &p.input,
        run.as_ref(),
    )
    .await
    {
        Ok(Ok(job)) => (StatusCode::ACCEPTED, Json(job_json(&job))).into_response(),
        Ok(Err(outcome)) => answer(outcome, &p.estimate, &p.payer, &request_id),
        Err(AppError::Validation { field, message }) => bad_param(&field, message),
        Err(e) => ApiError(e).into_response(),
    }
}

/// `GET /api/v1/jobs/{job_id}`: where a queued call stands, and once done its output and
/// cost. Only its owner sees it.
pub async fn job(State(state): State<AppState>, ApiUser(user): ApiUser, Path(job_id): Path<String>) -> Response {
    match crate::server::services::gateway::jobs::load(&state, &user.id, &job_id).await {
        Ok(job) => Json(job_json(&job)).into_response(),
        Err(e) => ApiError(e).into_response(),
    }
}

/// A job as the API shows it.
pub fn job_json(job: &crate::server::services::gateway::jobs::Job) -> Value {
    let mut v = json!({
        "job_id": job.id,
        "status": job.state,
        "endpoint_id": job.endpoint_id,
        "provider": job.provider,
        "operation": job.operation,
        "queue_position": job.queue_position,
        "progress": job.progress,
        "cost_estimate": job.cost_estimate.as_usd(),
        "cost_estimate_micros": job.cost_estimate.get(),
        "currency": "USD",
        "paid_with": job.paid_with,
        "status_url": format!("/api/v1/jobs/{}", job.id),
        "created_at_ms": job.created_at_ms,
        "started_at_ms": job.started_at_ms,
        "finished_at_ms": job.finished_at_ms,
    });
    if job.finished() {
        v["charged"] = json!(job.charged.is_positive());
        v["charged_micros"] = json!(job.charged.get());
    }
    if let Some(cost) = job.cost {
        v["cost"] = json!(cost.as_usd());
        v["cost_micros"] = json!(cost.get());
    }
    if let Some(output) = &job.output {
        v["output"] = output.clone();
    }
    if let Some(failure) = &job.failure {
        v["error"] = json!({ "kind": failure });
        v["message"] = json!(format!("The job failed ({}). Nothing was charged.", failure.replace('_', " ")));
    }
    v
}

/// The id this request is logged under (set by the request-id layer), as the call's id.
fn request_id_of(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(crate::server::web::http::REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

fn answer(
    outcome: crate::server::services::gateway::run::Outcome,
    estimate: &Estimate,
    payer: &Payer,
    request_id: &str,
) -> Response {
    use crate::server::adapters::providers::RunFailure;
    use crate::server::services::gateway::run::Outcome;
    let label = estimate.price.provider.label();
    match outcome {
        Outcome::Done { output, cost, charged } => {
            let metadata = json!({
                "cost": cost.as_usd(),
                "cost_micros": cost.get(),
                "cost_estimate": estimate.cost.as_usd(),
                "cost_estimate_micros": estimate.cost.get(),
                "currency": "USD",
                "provider": estimate.price.provider.as_str(),
                "executed_model": estimate.price.endpoint_id,
                "operation": estimate.price.operation,
                "request_id": request_id,
                "charged": charged.is_positive(),
                "charged_micros": charged.get(),
                "paid_with": payer.as_str(),
            });
            let body = match output {
                Value::Object(mut map) => {
                    map.insert("metadata".into(), metadata);
                    Value::Object(map)
                }
                other => json!({ "output": other, "metadata": metadata }),
            };
            Json(body).into_response()
        }
        Outcome::Insufficient { needed, available } => payment_required("balance", needed, available),
        Outcome::OverRunCap { needed, left } => payment_required("run_cap", needed, left),
        Outcome::Failed(failure) => {
            let (status, message) = match &failure {
                RunFailure::ServerError(code) => (StatusCode::BAD_GATEWAY, format!("{label} failed (HTTP {code}).")),
                RunFailure::Timeout => (StatusCode::GATEWAY_TIMEOUT, format!("{label} did not answer in time.")),
                RunFailure::Network => (StatusCode::BAD_GATEWAY, format!("{label} could not be reached.")),
                RunFailure::KeyRefused => (
                    StatusCode::BAD_GATEWAY,
                    match payer {
                        Payer::OwnKey(_) => format!(
                            "{label} refused your own key. It is now marked refused, so calls use credits until you replace it."
                        ),
                        Payer::CallKey(_) => format!("{label} refused the key sent with this call."),
                        Payer::Credits => format!("{label} refused this server's account key."),
                    },
                ),
                RunFailure::BadInput { status, message } => (
                    StatusCode::from_u16(*status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY),
                    format!("{label} refused the input: {message}."),
                ),
                RunFailure::OffBase => (
                    StatusCode::BAD_GATEWAY,
                    format!("{label} was not called: the request would have left its configured address."),
                ),
                RunFailure::NoPlatformKey => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                        "This server cannot pay for {label} calls with credits; add your own key in Settings > API keys."
                    ),
                ),
            };
            let body = json!({
                "error": { "kind": failure.code() },
                "message": format!("{message} Nothing was charged."),
                "charged": false,
                "request_id": request_id,
            });
            (status, Json(body)).into_response()
        }
    }
}
