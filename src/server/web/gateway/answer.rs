//! The gateway's HTTP answers: a call's answer as kept with its usage record (made in
//! `services::gateway::answer`), a dry run's estimate, the answers to retries, and 402
//! naming the limit.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::server::services::gateway::answer::{self, Answer};
use crate::server::services::gateway::estimate::Estimate;
use crate::server::services::gateway::in_flight::{self, Busy};
use crate::server::services::gateway::replay::Earlier;
use crate::server::services::gateway::request::{CallRequest, Outcome};
use crate::shared::money::Micros;

/// The 402 answer: which limit was hit, and the amounts.
pub fn payment_required(limit: &str, needed: Micros, available: Micros) -> Response {
    (StatusCode::PAYMENT_REQUIRED, Json(answer::payment_required_body(limit, needed, available))).into_response()
}

/// The 429 answer to a call its wallet has no place for: which limit, how many calls are
/// going and may go, and when to try again.
pub fn too_many_calls(busy: &Busy) -> Response {
    let err = busy.to_error();
    let body = json!({
        "error": err,
        "message": err.to_string(),
        "limit": in_flight::LIMIT_NAME,
        "in_flight": busy.in_flight,
        "max_in_flight": busy.max,
        "retry_after_secs": in_flight::RETRY_AFTER_SECS,
    });
    let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(in_flight::RETRY_AFTER_SECS));
    response
}

/// A call's answer as it was kept, sent byte for byte; `replayed` when it is a retry's.
pub(super) fn kept(answer: &Answer, replayed: bool) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, answer.body.clone()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if replayed {
        headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    response
}

/// Set on the answer to a retry: the answer is the first call's, nothing ran again.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// The answer to a retry under a request id used before (anything but a first call).
pub(super) fn earlier(earlier: Earlier, request_id: &str) -> Response {
    let conflict = |message: String| {
        let body = json!({
            "error": { "kind": "conflict", "field": "X-Request-Id" },
            "message": message,
            "request_id": request_id,
        });
        (StatusCode::CONFLICT, Json(body)).into_response()
    };
    match earlier {
        Earlier::Answered(answer) => kept(&answer, true),
        Earlier::Running { call_id } => {
            let body = json!({
                "status": "running",
                "call_id": call_id,
                "request_id": request_id,
                "message": "A call with this request id is still running. Send the same request again \
                            (same X-Request-Id) to get its answer.",
            });
            let mut response = (StatusCode::ACCEPTED, Json(body)).into_response();
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
            response
        }
        Earlier::Different => conflict(format!(
            "The request id {request_id} was used for a different request (another endpoint or input). \
             Use a new X-Request-Id for a new request."
        )),
        // Never asked of `earlier`: a first call or one to run again is not answered here.
        Earlier::None | Earlier::CutOff { .. } | Earlier::Forgotten => conflict(format!(
            "You already made a call with the request id {request_id}; it was not run or charged again, \
             and its answer is no longer kept."
        )),
    }
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

/// How a run (or a queued call refused before it started) ended, as the API answers it.
pub(super) fn outcome(outcome: Outcome, request_id: &str) -> Response {
    match outcome {
        Outcome::Done { answer, .. } | Outcome::Failed { answer, .. } => kept(&answer, false),
        Outcome::Insufficient { needed, available } => payment_required("balance", needed, available),
        Outcome::OverRunCap { needed, left } => kept(&answer::over_run_cap(needed, left), false),
        Outcome::OverBudget(over) => kept(&answer::over_budget(&over), false),
        Outcome::Busy(busy) => too_many_calls(&busy),
        Outcome::Repeated => earlier(Earlier::Forgotten, request_id),
    }
}
