//! The Studio page's server functions: the models, an estimate, a run, a queued job.

use crate::shared::error::AppError;
use leptos::prelude::*;

pub use crate::shared::dto::studio::*;

/// The Studio form's fields, read into a request (numbers arrive as text).
#[cfg(feature = "ssr")]
fn studio_request(
    endpoint_id: &str,
    prompt: String,
    num_images: Option<&str>,
    simulate_failure: bool,
    sandbox_ms: [Option<&str>; 2],
) -> Result<crate::server::services::studio::StudioRequest, AppError> {
    use super::whole_number;
    let max = crate::server::services::gateway::estimate::MAX_IMAGES;
    let endpoint_id = crate::shared::endpoint::EndpointId::parse(endpoint_id)?;
    let num_images = num_images.map(|n| whole_number("num_images", n, 1..=max)).transpose()?.unwrap_or(1);
    let [queue_ms, run_ms] = sandbox_ms;
    Ok(crate::server::services::studio::StudioRequest {
        endpoint_id,
        prompt,
        num_images,
        simulate_failure,
        sandbox_queue_ms: queue_ms.map(|ms| whole_number("sandbox_queue_ms", ms, 0..=60_000)).transpose()?,
        sandbox_run_ms: run_ms.map(|ms| whole_number("sandbox_run_ms", ms, 0..=60_000)).transpose()?,
    })
}

#[server(endpoint = "studio_models")]
pub async fn studio_models() -> Result<Vec<StudioModel>, AppError> {
    use crate::server::services::studio;
    crate::server::web::guard::acting(|state, acting| async move { studio::models(&state, acting.owner_id()).await })
        .await
}

#[server(endpoint = "studio_estimate")]
pub async fn studio_estimate(endpoint_id: String, num_images: String) -> Result<RunEstimate, AppError> {
    use crate::server::services::studio;
    crate::server::web::guard::acting(|state, acting| async move {
        let asked = studio_request(&endpoint_id, String::new(), Some(&num_images), false, [None, None])?;
        studio::estimate_run(&state, &acting, &asked.endpoint_id, asked.num_images).await
    })
    .await
}

/// Runs a model for the signed-in person through the gateway.
#[server(endpoint = "studio_run")]
pub async fn studio_run(
    endpoint_id: String,
    prompt: String,
    num_images: String,
    simulate_failure: Option<String>,
) -> Result<StudioResult, AppError> {
    use crate::server::services::studio;
    crate::server::web::guard::acting(|state, acting| async move {
        let asked = studio_request(&endpoint_id, prompt, Some(&num_images), simulate_failure.is_some(), [None, None])?;
        studio::run(&state, &acting, asked).await
    })
    .await
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
    use crate::server::services::studio;
    crate::server::web::guard::acting(|state, acting| async move {
        let sandbox_ms = [sandbox_queue_ms.as_deref(), sandbox_run_ms.as_deref()];
        let asked = studio_request(&endpoint_id, prompt, None, simulate_failure.is_some(), sandbox_ms)?;
        studio::submit(&state, &acting, asked).await
    })
    .await
}

/// Where one of the signed-in person's Studio jobs stands.
#[server(endpoint = "studio_job")]
pub async fn studio_job_status(job_id: String) -> Result<StudioJob, AppError> {
    use crate::server::services::studio;
    crate::server::web::guard::signed_in(|state, user| async move { studio::job(&state, &user.id, &job_id).await })
        .await
}
