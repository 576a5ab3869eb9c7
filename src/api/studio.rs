//! The Studio page: pick a model, see the estimate, run it, see what it cost.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::money::Micros;

/// A model the Studio offers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StudioModel {
    pub endpoint_id: String,
    pub category: String,
    pub unit: String,
    pub unit_price: Micros,
}

/// What a run would cost and who would pay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunEstimate {
    pub cost: Micros,
    pub unit: String,
    /// "credits" or "own_key".
    pub paid_with: String,
    /// Enough credits (or a key) to run it now.
    pub affordable: bool,
}

/// What a run produced and cost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StudioResult {
    pub images: Vec<String>,
    pub cost: Micros,
    pub cost_estimate: Micros,
    pub charged: Micros,
    pub paid_with: String,
    pub request_id: String,
}

#[server(endpoint = "studio_models")]
pub async fn studio_models() -> Result<Vec<StudioModel>, AppError> {
    use crate::server::auth::guard;
    guard::respond(
        async {
            let (state, user) = guard::require_user().await?;
            let (list, _) = state.catalog.page(None, usize::MAX);
            let ids: Vec<String> = list
                .into_iter()
                .filter(|p| p.operation == "generateImage" && p.provider == crate::api::keys::Provider::Fal)
                .map(|p| p.endpoint_id)
                .collect();
            let priced = crate::server::gateway::pricing::prices_for(&state, &user.id, &ids).await?;
            let mut models: Vec<StudioModel> = priced
                .into_iter()
                .map(|p| StudioModel {
                    endpoint_id: p.price.endpoint_id,
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

#[cfg(feature = "ssr")]
fn studio_input(prompt: &str, num_images: u32, simulate_failure: bool) -> Result<serde_json::Value, AppError> {
    let prompt = prompt.trim();
    if prompt.is_empty() {
        return Err(AppError::validation("prompt", "Describe the image to make."));
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
pub async fn studio_estimate(endpoint_id: String, num_images: u32) -> Result<RunEstimate, AppError> {
    use crate::server::auth::guard;
    use crate::server::billing::{Payer, payer_for};
    use crate::server::gateway::{estimate::estimate, pricing::price_for};
    guard::respond(
        async {
            let (state, user) = guard::require_user().await?;
            let price = price_for(&state, &user.id, &endpoint_id).await?.price;
            let input = serde_json::json!({ "num_images": num_images });
            let e = estimate(price, &input)?;
            let unit = e.price.unit.as_str().to_string();
            let (paid_with, affordable) = match payer_for(&state, &user.id, e.price.provider, e.cost).await {
                Ok(Payer::OwnKey(_)) => ("own_key", true),
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
    num_images: u32,
    simulate_failure: Option<String>,
) -> Result<StudioResult, AppError> {
    use crate::server::auth::guard;
    use crate::server::gateway::run::{Outcome, execute, prepare};
    guard::respond(
        async {
            let (state, user) = guard::require_user().await?;
            let simulate = simulate_failure.is_some() && state.providers.is_sandbox_runs();
            let input = studio_input(&prompt, num_images, simulate)?;
            let (e, payer) = prepare(&state, &user.id, &endpoint_id, &input).await?;
            let request_id = uuid::Uuid::new_v4().to_string();
            let paid_with = payer.as_str();
            match execute(&state, &user.id, &request_id, &e, &payer, &input, None).await? {
                Outcome::Done { output, cost, charged } => {
                    let images = output
                        .get("images")
                        .and_then(|v| v.as_array())
                        .map(|list| {
                            list.iter()
                                .filter_map(|i| i.get("url").and_then(|u| u.as_str()).map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default();
                    Ok(StudioResult {
                        images,
                        cost,
                        cost_estimate: e.cost,
                        charged,
                        paid_with: paid_with.into(),
                        request_id,
                    })
                }
                Outcome::Insufficient { needed, available } => Err(AppError::InsufficientCredits {
                    needed_micros: needed.get(),
                    available_micros: available.get(),
                }),
                Outcome::OverRunCap { needed, left } => {
                    Err(AppError::InsufficientCredits { needed_micros: needed.get(), available_micros: left.get() })
                }
                Outcome::Failed(failure) => Err(AppError::Provider {
                    message: format!(
                        "{} could not make this ({}). Nothing was charged.",
                        e.price.provider.label(),
                        failure.code().replace('_', " ")
                    ),
                }),
            }
        }
        .await,
    )
}
