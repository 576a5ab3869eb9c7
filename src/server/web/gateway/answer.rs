//! The gateway's JSON answers: a call's output with its cost, a dry run's estimate, a
//! queued job, and the refusals (402 naming the limit; a provider's failure, not charged).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::server::adapters::providers::RunFailure;
use crate::server::services::billing::Payer;
use crate::server::services::gateway::estimate::Estimate;
use crate::server::services::gateway::jobs::Job;
use crate::server::services::gateway::request::{CallRequest, Outcome};
use crate::shared::error::AppError;
use crate::shared::money::Micros;

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

pub(super) fn estimate_json(e: &Estimate) -> Value {
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

/// A dry run's answer: the estimate and who would pay; nothing ran or was held.
pub(super) fn dry_run(request: &CallRequest) -> Response {
    let mut answer = estimate_json(&request.estimate);
    answer["dry_run"] = json!(true);
    answer["charged"] = json!(false);
    answer["paid_with"] = json!(request.payer.paid_with());
    Json(answer).into_response()
}

/// A job as the API shows it.
pub fn job_json(job: &Job) -> Value {
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
        v["message"] = json!(format!("The job failed ({}). Nothing was charged.", failure.words()));
    }
    v
}

/// How a run (or a queued call refused before it started) ended, as the API answers it.
pub(super) fn outcome(outcome: Outcome, request: &CallRequest) -> Response {
    match outcome {
        Outcome::Done { output, cost, charged } => done(output, cost, charged, request),
        Outcome::Insufficient { needed, available } => payment_required("balance", needed, available),
        Outcome::OverRunCap { needed, left } => payment_required("run_cap", needed, left),
        Outcome::Failed(failure) => failed(&failure, request),
    }
}

/// The provider's output, with what the call cost in `metadata`.
fn done(output: Value, cost: Micros, charged: Micros, request: &CallRequest) -> Response {
    let estimate = &request.estimate;
    let metadata = json!({
        "cost": cost.as_usd(),
        "cost_micros": cost.get(),
        "cost_estimate": estimate.cost.as_usd(),
        "cost_estimate_micros": estimate.cost.get(),
        "currency": "USD",
        "provider": estimate.price.provider.as_str(),
        "executed_model": estimate.price.endpoint_id,
        "operation": estimate.price.operation,
        "request_id": request.request_id,
        "charged": charged.is_positive(),
        "charged_micros": charged.get(),
        "paid_with": request.payer.paid_with(),
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

/// A provider's failure: the status that says whose it was, and that nothing was charged.
fn failed(failure: &RunFailure, request: &CallRequest) -> Response {
    let label = request.estimate.price.provider.label();
    let (status, message) = match failure {
        RunFailure::ServerError(code) => (StatusCode::BAD_GATEWAY, format!("{label} failed (HTTP {code}).")),
        RunFailure::Timeout => (StatusCode::GATEWAY_TIMEOUT, format!("{label} did not answer in time.")),
        RunFailure::Network => (StatusCode::BAD_GATEWAY, format!("{label} could not be reached.")),
        RunFailure::KeyRefused => (
            StatusCode::BAD_GATEWAY,
            match request.payer {
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
            format!("This server cannot pay for {label} calls with credits; add your own key in Settings > API keys."),
        ),
    };
    let body = json!({
        "error": { "kind": failure.reason() },
        "message": format!("{message} Nothing was charged."),
        "charged": false,
        "request_id": request.request_id,
    });
    (status, Json(body)).into_response()
}
