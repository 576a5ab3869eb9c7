//! What a run gave: a queued job as it goes and once done, or a finished run's images,
//! each with what it cost.

use leptos::prelude::*;

use crate::api::studio::{Media, StudioJob, StudioResult};
use crate::shared::states::{JobState, PaidWith};

/// A queued job: where it stands while it runs, then its result and cost.
#[component]
pub(super) fn JobView(job: StudioJob) -> impl IntoView {
    let status = match job.status {
        JobState::Submitting => "Sending to the provider.".to_string(),
        JobState::Queued => match job.queue_position {
            Some(0) => "Queued: next in line.".to_string(),
            Some(n) => format!("Queued: {n} ahead in the provider's queue."),
            None => "Queued with the provider.".to_string(),
        },
        JobState::Running => match &job.progress {
            Some(p) => format!("Running: {p}"),
            None => "Running.".to_string(),
        },
        JobState::Succeeded => {
            let cost = job.cost.unwrap_or(job.charged);
            if job.paid_with == PaidWith::OwnKey {
                format!("Done. Cost {cost} at the provider's price: paid with your own key, no credits used.")
            } else {
                format!("Done. Cost {}, charged to your credits (estimated {}).", job.charged, job.cost_estimate)
            }
        }
        JobState::Failed => job.error.clone().unwrap_or_else(|| "The job failed. Nothing was charged.".into()),
    };
    let running = !job.finished();
    let failed = job.status == JobState::Failed;
    view! {
        <section class="card" aria-labelledby="job-title" data-testid="job" data-status=job.status.as_str() data-job-id=job.job_id.clone()>
            <h2 id="job-title">{if running { "In progress" } else if failed { "Failed" } else { "Result" }}</h2>
            <p data-testid="job-status" role="status" aria-live="polite" class:notice=failed class:notice--error=failed>{status}</p>
            {running.then(|| view! { <progress class="studio__progress" aria-label="Job progress"></progress> })}
            <div class="studio__images">
                {job.media.into_iter().enumerate().map(|(i, m)| media_view(i, m)).collect_view()}
            </div>
        </section>
    }
}

fn media_view(i: usize, m: Media) -> AnyView {
    if m.kind == "video" && !m.url.starts_with("data:image/") {
        view! { <video src=m.url controls=true aria-label=format!("Generated video {}", i + 1)></video> }.into_any()
    } else {
        let label =
            if m.kind == "video" { format!("Generated video {}", i + 1) } else { format!("Generated image {}", i + 1) };
        // A picture standing in for a video (the sandbox) is shown as one.
        view! { <img src=m.url alt=label loading="lazy" /> }.into_any()
    }
}

#[component]
pub(super) fn RunResult(result: StudioResult) -> impl IntoView {
    let paid = if result.paid_with == PaidWith::OwnKey {
        format!("Cost {} at the provider's price: paid with your own key, no credits used.", result.cost)
    } else {
        format!("Cost {}, charged to your credits (estimated {}).", result.charged, result.cost_estimate)
    };
    view! {
        <section class="card" aria-labelledby="result-title" data-request-id=result.request_id.clone()>
            <h2 id="result-title">"Result"</h2>
            <p data-testid="run-cost" role="status">{paid}</p>
            <div class="studio__images">
                {result.images.into_iter().enumerate().map(|(i, url)| view! {
                    <img src=url alt=format!("Generated image {}", i + 1) loading="lazy" />
                }).collect_view()}
            </div>
        </section>
    }
}
