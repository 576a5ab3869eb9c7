//! A call's answer as the caller gets it: HTTP status and JSON body, made here so it can be
//! kept with the call's usage record (written in the transaction that settles the call)
//! and given again, byte for byte, to a retry under the same request id.

use serde_json::{Value, json};

use super::jobs::Job;
use super::request::Call;
use crate::server::adapters::providers::RunFailure;
use crate::shared::error::AppError;
use crate::shared::money::Micros;
use crate::shared::states::PaidWith;

/// An HTTP answer: its status and its JSON body, exactly as sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    fn json(status: u16, body: &Value) -> Self {
        Self { status, body: body.to_string() }
    }
}

/// The body of a 402: which limit was hit, and the amounts.
pub fn payment_required_body(limit: &str, needed: Micros, available: Micros) -> Value {
    let err = AppError::InsufficientCredits { needed_micros: needed.get(), available_micros: available.get() };
    json!({
        "error": err,
        "message": err.to_string(),
        "limit": limit,
        "needed_micros": needed.get(),
        "available_micros": available.get(),
        "needed": needed.to_string(),
        "available": available.to_string(),
    })
}

/// A call refused because it would push its run over the run's cap.
pub fn over_run_cap(needed: Micros, left: Micros) -> Answer {
    Answer::json(402, &payment_required_body("run_cap", needed, left))
}

/// A call refused because it would push a budget over its limit: which budget, its
/// window, and when it resets.
pub fn over_budget(over: &super::budgets::OverBudget) -> Answer {
    let needed = over.needed;
    let mut body = payment_required_body(over.scope.limit_name(), needed, over.left());
    body["message"] = json!(over.describe());
    body["window"] = json!(over.period.as_str());
    body["limit_micros"] = json!(over.limit.get());
    body["spent_micros"] = json!(over.spent.get());
    body["resets_at_ms"] = json!(over.resets_at_ms);
    Answer::json(402, &body)
}

/// The provider's output, with what the call cost in `metadata`.
pub fn done(call: &Call, output: &Value, cost: Micros, charged: Micros) -> Answer {
    let metadata = json!({
        "cost": cost.as_usd(),
        "cost_micros": cost.get(),
        "cost_estimate": call.cost_estimate.as_usd(),
        "cost_estimate_micros": call.cost_estimate.get(),
        "currency": "USD",
        "provider": call.provider.as_str(),
        "executed_model": call.endpoint_id,
        "operation": call.operation,
        "request_id": call.request_id,
        "charged": charged.is_positive(),
        "charged_micros": charged.get(),
        "paid_with": call.paid_with,
    });
    let body = match output {
        Value::Object(map) => {
            let mut map = map.clone();
            map.insert("metadata".into(), metadata);
            Value::Object(map)
        }
        other => json!({ "output": other, "metadata": metadata }),
    };
    Answer::json(200, &body)
}

/// A provider's failure: the status that says whose it was, and that nothing was charged.
pub fn failed(call: &Call, failure: &RunFailure) -> Answer {
    let label = call.provider.label();
    let (status, message) = match failure {
        RunFailure::ServerError(code) => (502, format!("{label} failed (HTTP {code}).")),
        RunFailure::Timeout => (504, format!("{label} did not answer in time.")),
        RunFailure::Network => (502, format!("{label} could not be reached.")),
        RunFailure::KeyRefused => (
            502,
            match (call.paid_with, call.key_saved) {
                (PaidWith::OwnKey, true) => format!(
                    "{label} refused your own key. It is now marked refused, so calls use credits until you replace it."
                ),
                (PaidWith::OwnKey, false) => format!("{label} refused the key sent with this call."),
                (PaidWith::Credits, _) => format!("{label} refused this server's account key."),
            },
        ),
        RunFailure::BadInput { status, message } => {
            let status = if (400..500).contains(status) { *status } else { 422 };
            (status, format!("{label} refused the input: {message}."))
        }
        RunFailure::OffBase => {
            (502, format!("{label} was not called: the request would have left its configured address."))
        }
        RunFailure::NoPlatformKey => (
            503,
            format!("This server cannot pay for {label} calls with credits; add your own key in Settings > API keys."),
        ),
    };
    let body = json!({
        "error": { "kind": failure.reason() },
        "message": format!("{message} Nothing was charged."),
        "charged": false,
        "request_id": call.request_id,
    });
    Answer::json(status, &body)
}

/// A call cut off by a server that stopped before the provider's answer arrived. Nobody
/// was given this answer; a retry under the same request id runs the call again.
pub fn interrupted(call: &Call) -> Answer {
    let body = json!({
        "error": { "kind": crate::shared::states::CallFailure::Interrupted },
        "message": "The call was cut off when the server stopped, before the provider answered. Nothing was \
                    charged; send it again (the same request id runs it again).",
        "charged": false,
        "request_id": call.request_id,
    });
    Answer::json(503, &body)
}

/// A queued job as the API shows it.
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

/// A job just queued: 202 with where to follow it.
pub fn queued(job: &Job) -> Answer {
    Answer::json(202, &job_json(job))
}
