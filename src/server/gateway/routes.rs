//! `POST /api/v1/run/{endpoint_id}`: the metering gateway's entry point.
//!
//! `?dryRun=true` prices the call from its input and says who would pay (the caller's own
//! key for the provider, or their credits), runs nothing and holds nothing. A caller
//! whose credits do not cover the estimate, with no working key for the provider, gets
//! 402 naming the limit and the amounts.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::estimate::Estimate;
use crate::error::AppError;
use crate::money::Micros;
use crate::server::api_v1::bad_param;
use crate::server::auth::guard::{ApiError, ApiUser};
use crate::server::billing::Payer;
use crate::server::state::AppState;

#[derive(Deserialize)]
pub struct RunQuery {
    #[serde(rename = "dryRun")]
    dry_run: Option<String>,
}

fn dollars(m: Micros) -> f64 {
    m.get() as f64 / 1_000_000.0
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
        "unit_price": dollars(e.price.unit_price),
        "cost_estimate": dollars(e.cost),
        "cost_estimate_micros": e.cost.get(),
        "currency": "USD",
    })
}

pub async fn run(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(endpoint_id): Path<String>,
    Query(q): Query<RunQuery>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let endpoint_id = endpoint_id.trim_matches('/').to_string();
    if endpoint_id.is_empty() || endpoint_id.len() > 200 {
        return bad_param("endpoint_id", "Name the endpoint, e.g. fal-ai/flux/schnell.");
    }
    let dry_run = match q.dry_run.as_deref() {
        None | Some("false") => false,
        Some("true") | Some("1") => true,
        Some(_) => return bad_param("dryRun", "dryRun must be true or false."),
    };
    let input: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => return bad_param("input", format!("The body must be the provider input as JSON ({e}).")),
        }
    };
    let (estimate, payer) = match super::run::prepare(&state, &user.id, &endpoint_id, &input).await {
        Ok(prepared) => prepared,
        Err(AppError::Validation { field, message }) => return bad_param(&field, message),
        Err(AppError::InsufficientCredits { needed_micros, available_micros }) => {
            return payment_required("balance", Micros(needed_micros), Micros(available_micros));
        }
        Err(e) => return ApiError(e).into_response(),
    };
    if !dry_run {
        let run = match super::run_cap::from_headers(&headers) {
            Ok(r) => r,
            Err(AppError::Validation { field, message }) => return bad_param(&field, message),
            Err(e) => return ApiError(e).into_response(),
        };
        let request_id = request_id_of(&headers);
        return match super::run::execute(&state, &user.id, &request_id, &estimate, &payer, &input, run.as_ref()).await {
            Ok(outcome) => answer(outcome, &estimate, &payer, &request_id),
            Err(e) => ApiError(e).into_response(),
        };
    }
    let mut answer = estimate_json(&estimate);
    answer["dry_run"] = json!(true);
    answer["charged"] = json!(false);
    answer["paid_with"] = json!(payer.as_str());
    Json(answer).into_response()
}

/// The id this request is logged under (set by the request-id layer), as the call's id.
fn request_id_of(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(crate::server::http::REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

fn answer(outcome: super::run::Outcome, estimate: &Estimate, payer: &Payer, request_id: &str) -> Response {
    use super::run::Outcome;
    use crate::server::providers::RunFailure;
    let label = estimate.price.provider.label();
    match outcome {
        Outcome::Done { output, cost, charged } => {
            let metadata = json!({
                "cost": dollars(cost),
                "cost_micros": cost.get(),
                "cost_estimate": dollars(estimate.cost),
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
                        Payer::Credits => format!("{label} refused this server's account key."),
                    },
                ),
                RunFailure::BadInput { status, message } => (
                    StatusCode::from_u16(*status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY),
                    format!("{label} refused the input: {message}."),
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
