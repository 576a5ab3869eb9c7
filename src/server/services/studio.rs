//! The Studio: the models it offers, what a run would cost, and runs and jobs as its page
//! shows them. It calls the gateway as the JSON API does, on the signed-in person's behalf.

use serde_json::{Value, json};

use crate::server::infra::state::AppState;
use crate::server::services::billing::payer_for;
use crate::server::services::gateway::estimate::{MAX_IMAGES, estimate};
use crate::server::services::gateway::jobs::{self, Job};
use crate::server::services::gateway::pricing::{price_for, prices_for};
use crate::server::services::gateway::request::{CallRequest, Outcome};
use crate::server::services::gateway::run::execute;
use crate::server::services::wallets::Acting;
use crate::shared::dto::keys::Provider;
use crate::shared::dto::studio::{Media, RunEstimate, StudioJob, StudioModel, StudioResult};
use crate::shared::endpoint::EndpointId;
use crate::shared::error::AppError;
use crate::shared::states::PaidWith;

/// The model the Studio's image picker starts on.
const DEFAULT_MODEL: &str = "fal-ai/flux/schnell";

/// A picture (or, queued, a video) to make, as the Studio's form asks for it.
pub struct StudioRequest {
    pub endpoint_id: EndpointId,
    pub prompt: String,
    /// 1 to [`MAX_IMAGES`]; ignored for queued jobs.
    pub num_images: u64,
    /// Sandbox only: make the provider fail, so the "not charged" path can be seen.
    pub simulate_failure: bool,
    /// Sandbox only: how long a queued job waits, and then runs, in milliseconds.
    pub sandbox_queue_ms: Option<u64>,
    pub sandbox_run_ms: Option<u64>,
}

/// fal's image and video models at the person's prices, the default first.
pub async fn models(state: &AppState, user_id: &str) -> Result<Vec<StudioModel>, AppError> {
    let (list, _) = state.catalog.page(None, usize::MAX);
    let ids: Vec<EndpointId> = list
        .into_iter()
        .filter(|p| p.provider == Provider::Fal && (p.operation == "generateImage" || p.category == "video"))
        .map(|p| p.endpoint_id)
        .collect();
    let mut models: Vec<StudioModel> = prices_for(state, user_id, &ids)
        .await?
        .into_iter()
        .map(|p| StudioModel {
            endpoint_id: p.price.endpoint_id.to_string(),
            name: p.price.name,
            category: p.price.category,
            unit: p.price.unit.as_str().to_string(),
            unit_price: p.price.unit_price,
        })
        .collect();
    models.sort_by_key(|m| m.endpoint_id != DEFAULT_MODEL);
    Ok(models)
}

/// What `num_images` pictures from `endpoint_id` would cost, who would pay, and whether
/// the person can run it now.
pub async fn estimate_run(
    state: &AppState,
    acting: &Acting,
    endpoint_id: &EndpointId,
    num_images: u64,
) -> Result<RunEstimate, AppError> {
    let price = price_for(state, acting.owner_id(), endpoint_id).await?.price;
    let e = estimate(price, &json!({ "num_images": num_images }))?;
    let (paid_with, affordable) = match payer_for(state, acting.owner_id(), e.price.provider, e.cost).await {
        Ok(payer) => (payer.paid_with(), true),
        Err(AppError::InsufficientCredits { .. }) => (PaidWith::Credits, false),
        Err(err) => return Err(err),
    };
    Ok(RunEstimate { cost: e.cost, unit: e.price.unit.as_str().to_string(), paid_with, affordable })
}

/// Runs an image model now and answers with the pictures and what they cost.
pub async fn run(state: &AppState, acting: &Acting, asked: StudioRequest) -> Result<StudioResult, AppError> {
    acting.check_spend()?;
    let simulate = asked.simulate_failure && state.providers.is_sandbox_runs();
    let input = provider_input(&asked.prompt, Some(asked.num_images), simulate)?;
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut request = CallRequest::prepare(state, acting, request_id, &asked.endpoint_id, input).await?;
    request.budgets = acting.budgets(None);
    match execute(state, &request).await? {
        Outcome::Done { output, cost, charged, .. } => Ok(StudioResult {
            images: media_of(&output).into_iter().map(|m| m.url).collect(),
            cost,
            cost_estimate: request.estimate.cost,
            charged,
            paid_with: request.payer.paid_with(),
            request_id: request.request_id,
        }),
        refused => Err(refusal(refused, request.estimate.price.provider, "make this")),
    }
}

/// Queues a long job (video); the page follows it with [`job`].
pub async fn submit(state: &AppState, acting: &Acting, asked: StudioRequest) -> Result<StudioJob, AppError> {
    acting.check_spend()?;
    let sandbox = state.providers.is_sandbox_runs();
    let mut input = provider_input(&asked.prompt, None, asked.simulate_failure && sandbox)?;
    if sandbox {
        if let Some(ms) = asked.sandbox_queue_ms {
            input["sandbox_queue_ms"] = json!(ms);
        }
        if let Some(ms) = asked.sandbox_run_ms {
            input["sandbox_delay_ms"] = json!(ms);
        }
    }
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut request = CallRequest::prepare(state, acting, request_id, &asked.endpoint_id, input).await?;
    request.budgets = acting.budgets(None);
    match jobs::submit(state, &request).await? {
        Ok(job) => Ok(studio_job_of(job)),
        Err(refused) => Err(refusal(refused, request.estimate.price.provider, "take this job")),
    }
}

/// Where one of the person's jobs stands.
pub async fn job(state: &AppState, user_id: &str, job_id: &str) -> Result<StudioJob, AppError> {
    Ok(studio_job_of(jobs::load(state, user_id, job_id).await?))
}

/// The provider input for a prompt: checked, trimmed, and (sandbox) told to fail.
fn provider_input(prompt: &str, num_images: Option<u64>, simulate_failure: bool) -> Result<Value, AppError> {
    let prompt = prompt.trim();
    if prompt.is_empty() {
        return Err(AppError::validation("prompt", "Describe what to make."));
    }
    if prompt.chars().count() > 2000 {
        return Err(AppError::validation("prompt", "Keep the prompt under 2,000 characters."));
    }
    let mut input = json!({ "prompt": prompt });
    if let Some(n) = num_images {
        if !(1..=MAX_IMAGES).contains(&n) {
            return Err(AppError::validation("num_images", format!("num_images must be from 1 to {MAX_IMAGES}.")));
        }
        input["num_images"] = json!(n);
    }
    if simulate_failure {
        input["sandbox_failure"] = json!("server_error");
    }
    Ok(input)
}

/// The pictures and videos in a provider's output.
fn media_of(output: &Value) -> Vec<Media> {
    let one = |v: &Value, kind: &str| {
        let url = v.get("url")?.as_str()?.to_string();
        Some(Media { url, kind: kind.into() })
    };
    let mut media: Vec<Media> = output
        .get("images")
        .and_then(|v| v.as_array())
        .map(|list| list.iter().filter_map(|i| one(i, "image")).collect())
        .unwrap_or_default();
    if let Some(video) = output.get("video").and_then(|v| one(v, "video")) {
        media.push(video);
    }
    media
}

fn studio_job_of(job: Job) -> StudioJob {
    let error = job
        .failure
        .map(|f| format!("{} could not make this ({}). Nothing was charged.", job.provider.label(), f.words()));
    StudioJob {
        media: job.output.as_ref().map(media_of).unwrap_or_default(),
        job_id: job.id,
        endpoint_id: job.endpoint_id,
        status: job.state,
        queue_position: job.queue_position,
        progress: job.progress,
        cost_estimate: job.cost_estimate,
        cost: job.cost,
        charged: job.charged,
        paid_with: job.paid_with,
        error,
    }
}

/// A call that did not produce anything, as the Studio reports it: short of credits
/// (which opens the billing gate) or the provider's failure, never charged.
fn refusal(outcome: Outcome, provider: Provider, what: &str) -> AppError {
    match outcome {
        Outcome::Insufficient { needed, available: left } | Outcome::OverRunCap { needed, left } => {
            AppError::InsufficientCredits { needed_micros: needed.get(), available_micros: left.get() }
        }
        Outcome::Failed { failure, .. } => AppError::Provider {
            message: format!(
                "{} could not {what} ({}). Nothing was charged.",
                provider.label(),
                failure.reason().words()
            ),
        },
        Outcome::OverBudget(over) => over.to_error(),
        Outcome::Busy(busy) => busy.to_error(),
        Outcome::Done { .. } => AppError::internal("reporting a call", "a finished call is not a refusal"),
        // Request ids made here are fresh: one already used is our bug.
        Outcome::Repeated => AppError::internal("reporting a call", "a fresh request id was taken"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_are_checked_and_trimmed() {
        let input = provider_input("  a red fox  ", Some(2), false).unwrap();
        assert_eq!(input, json!({ "prompt": "a red fox", "num_images": 2 }));
        let queued = provider_input("a fox", None, true).unwrap();
        assert_eq!(queued, json!({ "prompt": "a fox", "sandbox_failure": "server_error" }));
        let field = |r: Result<Value, AppError>| match r {
            Err(AppError::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        };
        assert_eq!(field(provider_input("   ", Some(1), false)), "prompt");
        assert_eq!(field(provider_input(&"x".repeat(2001), Some(1), false)), "prompt");
        assert_eq!(field(provider_input("a fox", Some(0), false)), "num_images");
    }

    #[test]
    fn media_are_read_from_images_and_video() {
        let output = json!({ "images": [{ "url": "a.png" }, { "nourl": 1 }], "video": { "url": "v.mp4" } });
        let kinds: Vec<(String, String)> = media_of(&output).into_iter().map(|m| (m.url, m.kind)).collect();
        assert_eq!(kinds, vec![("a.png".into(), "image".into()), ("v.mp4".into(), "video".into())]);
    }
}

/// The kinds of work the home page prices, by catalog category.
const HIGHLIGHTS: [(&str, &str); 5] = [
    ("image-generation", "Images"),
    ("image-editing", "Image edits"),
    ("upscaling", "Upscaling"),
    ("video", "Videos"),
    ("llm", "Chat (LLM)"),
];

/// The cheapest listed model of each kind, at the catalog's prices, for the home page.
pub fn price_highlights(state: &AppState) -> Vec<crate::shared::dto::status::PriceHighlight> {
    let (list, _) = state.catalog.page(None, usize::MAX);
    HIGHLIGHTS
        .iter()
        .filter_map(|(category, what)| {
            let cheapest = list.iter().filter(|p| p.category == *category).min_by_key(|p| p.unit_price)?;
            Some(crate::shared::dto::status::PriceHighlight {
                what: what.to_string(),
                model: cheapest.name.clone(),
                unit: cheapest.unit.as_str().replace('_', " "),
                unit_price: cheapest.unit_price,
            })
        })
        .collect()
}
