//! The Studio page: pick a model, see the estimate, run it, see what it cost.

use crate::shared::error::AppError;
use leptos::prelude::*;

pub use crate::shared::dto::studio::*;

/// The pictures and videos in a provider's output.
#[cfg(feature = "ssr")]
fn media_of(output: &serde_json::Value) -> Vec<Media> {
    let one = |v: &serde_json::Value, kind: &str| {
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

#[cfg(feature = "ssr")]
fn studio_job_of(job: crate::server::services::gateway::jobs::Job) -> StudioJob {
    let error = job.failure.as_ref().map(|f| {
        format!(
            "{} could not make this ({}). Nothing was charged.",
            job_provider_label(&job.provider),
            f.replace('_', " ")
        )
    });
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

#[cfg(feature = "ssr")]
fn job_provider_label(provider: &str) -> &'static str {
    crate::api::keys::Provider::parse(provider).map(|p| p.label()).unwrap_or("The provider")
}

/// A call that did not produce anything, as the Studio reports it: short of credits
/// (which opens the billing gate) or the provider's failure, never charged.
#[cfg(feature = "ssr")]
fn refusal(
    outcome: crate::server::services::gateway::run::Outcome,
    provider: crate::api::keys::Provider,
    what: &str,
) -> AppError {
    use crate::server::services::gateway::run::Outcome;
    match outcome {
        Outcome::Insufficient { needed, available: left } | Outcome::OverRunCap { needed, left } => {
            AppError::InsufficientCredits { needed_micros: needed.get(), available_micros: left.get() }
        }
        Outcome::Failed(failure) => AppError::Provider {
            message: format!(
                "{} could not {what} ({}). Nothing was charged.",
                provider.label(),
                failure.code().replace('_', " ")
            ),
        },
        Outcome::Done { .. } => AppError::internal("reporting a call", "a finished call is not a refusal"),
    }
}

#[server(endpoint = "studio_models")]
pub async fn studio_models() -> Result<Vec<StudioModel>, AppError> {
    use crate::server::web::guard;
    guard::respond(
        async {
            let (state, user) = guard::require_user().await?;
            let (list, _) = state.catalog.page(None, usize::MAX);
            let ids: Vec<crate::shared::endpoint::EndpointId> = list
                .into_iter()
                .filter(|p| {
                    p.provider == crate::api::keys::Provider::Fal
                        && (p.operation == "generateImage" || p.category == "video")
                })
                .map(|p| p.endpoint_id)
                .collect();
            let priced = crate::server::services::gateway::pricing::prices_for(&state, &user.id, &ids).await?;
            let mut models: Vec<StudioModel> = priced
                .into_iter()
                .map(|p| StudioModel {
                    endpoint_id: p.price.endpoint_id.to_string(),
                    category: p.price.category,
                    unit: p.price.unit.as_str().to_string(),
                    unit_price: p.price.unit_price,
                })
                .collect();
            // The category's default first.
            models.sort_by_key(|m| m.endpoint_id != "fal-ai/flux/schnell");
            Ok(models)
        }
        .await,
    )
}

/// An image model and a number of images, as the Studio's form sends them.
#[cfg(feature = "ssr")]
fn image_request(endpoint_id: &str, num_images: &str) -> Result<(crate::shared::endpoint::EndpointId, u64), AppError> {
    let endpoint_id = crate::shared::endpoint::EndpointId::parse(endpoint_id)?;
    let max = crate::server::services::gateway::estimate::MAX_IMAGES;
    Ok((endpoint_id, super::whole_number("num_images", num_images, 1..=max)?))
}

#[cfg(feature = "ssr")]
fn studio_input(prompt: &str, num_images: u64, simulate_failure: bool) -> Result<serde_json::Value, AppError> {
    let prompt = prompt.trim();
    if prompt.is_empty() {
        return Err(AppError::validation("prompt", "Describe what to make."));
    }
    if prompt.chars().count() > 2000 {
        return Err(AppError::validation("prompt", "Keep the prompt under 2,000 characters."));
    }
    let mut input = serde_json::json!({ "prompt": prompt, "num_images": num_images });
    if simulate_failure {
        input["sandbox_failure"] = serde_json::json!("server_error");
    }
    Ok(input)
}

#[server(endpoint = "studio_estimate")]
pub async fn studio_estimate(endpoint_id: String, num_images: String) -> Result<RunEstimate, AppError> {
    use crate::server::services::billing::{Payer, payer_for};
    use crate::server::services::gateway::{estimate::estimate, pricing::price_for};
    use crate::server::web::guard;
    guard::respond(
        async {
            let (state, user) = guard::require_user().await?;
            let (endpoint_id, num_images) = image_request(&endpoint_id, &num_images)?;
            let price = price_for(&state, &user.id, &endpoint_id).await?.price;
            let input = serde_json::json!({ "num_images": num_images });
            let e = estimate(price, &input)?;
            let unit = e.price.unit.as_str().to_string();
            let (paid_with, affordable) = match payer_for(&state, &user.id, e.price.provider, e.cost).await {
                Ok(Payer::OwnKey(_) | Payer::CallKey(_)) => ("own_key", true),
                Ok(Payer::Credits) => ("credits", true),
                Err(AppError::InsufficientCredits { .. }) => ("credits", false),
                Err(err) => return Err(err),
            };
            Ok(RunEstimate { cost: e.cost, unit, paid_with: paid_with.into(), affordable })
        }
        .await,
    )
}

/// Runs a model for the signed-in person through the gateway.
#[server(endpoint = "studio_run")]
pub async fn studio_run(
    endpoint_id: String,
    prompt: String,
    num_images: String,
    simulate_failure: Option<String>,
) -> Result<StudioResult, AppError> {
    use crate::server::services::gateway::run::{Outcome, execute, prepare};
    use crate::server::web::guard;
    guard::respond(
        async {
            let (state, user) = guard::require_user().await?;
            let (endpoint_id, num_images) = image_request(&endpoint_id, &num_images)?;
            let simulate = simulate_failure.is_some() && state.providers.is_sandbox_runs();
            let input = studio_input(&prompt, num_images, simulate)?;
            let (e, payer) = prepare(&state, &user.id, &endpoint_id, &input).await?;
            let request_id = uuid::Uuid::new_v4().to_string();
            let paid_with = payer.as_str();
            match execute(&state, &user.id, &request_id, &e, &payer, &input, None).await? {
                Outcome::Done { output, cost, charged } => {
                    let images = media_of(&output).into_iter().map(|m| m.url).collect();
                    Ok(StudioResult {
                        images,
                        cost,
                        cost_estimate: e.cost,
                        charged,
                        paid_with: paid_with.into(),
                        request_id,
                    })
                }
                refused => Err(refusal(refused, e.price.provider, "make this")),
            }
        }
        .await,
    )
}

/// Queues a long Studio job (video) for the signed-in person. Sandbox jobs can be made to
/// fail, and to wait `queue_ms` in the queue and run `run_ms`.
#[server(endpoint = "studio_submit")]
pub async fn studio_submit(
    endpoint_id: String,
    prompt: String,
    simulate_failure: Option<String>,
    sandbox_queue_ms: Option<String>,
    sandbox_run_ms: Option<String>,
) -> Result<StudioJob, AppError> {
    use crate::server::services::gateway::jobs::submit;
    use crate::server::services::gateway::run::prepare;
    use crate::server::web::guard;
    guard::respond(
        async {
            let (state, user) = guard::require_user().await?;
            let endpoint_id = crate::shared::endpoint::EndpointId::parse(&endpoint_id)?;
            let sandbox = state.providers.is_sandbox_runs();
            let mut input = studio_input(&prompt, 1, simulate_failure.is_some() && sandbox)?;
            if sandbox {
                if let Some(ms) = sandbox_queue_ms {
                    input["sandbox_queue_ms"] =
                        serde_json::json!(super::whole_number("sandbox_queue_ms", &ms, 0..=60_000)?);
                }
                if let Some(ms) = sandbox_run_ms {
                    input["sandbox_delay_ms"] =
                        serde_json::json!(super::whole_number("sandbox_run_ms", &ms, 0..=60_000)?);
                }
            }
            if let Some(object) = input.as_object_mut() {
                object.remove("num_images");
            }
            let (e, payer) = prepare(&state, &user.id, &endpoint_id, &input).await?;
            let request_id = uuid::Uuid::new_v4().to_string();
            match submit(&state, &user.id, &request_id, &e, &payer, &input, None).await? {
                Ok(job) => Ok(studio_job_of(job)),
                Err(refused) => Err(refusal(refused, e.price.provider, "take this job")),
            }
        }
        .await,
    )
}

/// Where one of the signed-in person's Studio jobs stands.
#[server(endpoint = "studio_job")]
pub async fn studio_job_status(job_id: String) -> Result<StudioJob, AppError> {
    use crate::server::web::guard;
    guard::respond(
        async {
            let (state, user) = guard::require_user().await?;
            let job = crate::server::services::gateway::jobs::load(&state, &user.id, &job_id).await?;
            Ok(studio_job_of(job))
        }
        .await,
    )
}
