//! Studio: pick a model, write a prompt, see the estimate, run it, see what it cost.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::studio::{
    Media, StudioJob, StudioModel, StudioResult, StudioRun, StudioSubmit, studio_estimate, studio_job_status,
    studio_models,
};
use crate::shared::error::AppError;
use crate::ui::app::SiteInfoResource;
use crate::ui::components::billing_gate::use_notifier;
use crate::ui::components::frame::SignedIn;

#[component]
pub fn StudioPage() -> impl IntoView {
    // Outside the signed-in section, which is drawn again when the account reloads.
    let run = ServerAction::<StudioRun>::new();
    let submit = ServerAction::<StudioSubmit>::new();
    let job = RwSignal::new(None::<StudioJob>);
    let notifier = use_notifier();
    Effect::new(move |_| {
        if let Some(Err(e @ AppError::InsufficientCredits { .. })) = run.value().get() {
            notifier.error(&e);
        }
    });
    Effect::new(move |_| match submit.value().get() {
        Some(Err(e @ AppError::InsufficientCredits { .. })) => notifier.error(&e),
        Some(Ok(queued)) => job.set(Some(queued)),
        _ => {}
    });
    // Follows a queued job: asks where it stands every second until it is done.
    Effect::new(move |_| {
        let Some(current) = job.get() else { return };
        if current.finished() {
            return;
        }
        let id = current.job_id.clone();
        set_timeout(
            move || {
                leptos::task::spawn_local(async move {
                    // Still the job on screen: a newer one replaces it.
                    let showing = job.with_untracked(|j| j.as_ref().map(|j| j.job_id == id).unwrap_or(false));
                    if !showing {
                        return;
                    }
                    match studio_job_status(id).await {
                        Ok(next) => job.set(Some(next)),
                        // Asked again on the next round.
                        Err(_) => job.update(|_| {}),
                    }
                });
            },
            std::time::Duration::from_millis(1000),
        );
    });
    view! {
        <Title text="Studio" />
        <header class="page-header">
            <h1>"Studio"</h1>
            <p class="lead">"Generate images and videos. You see the estimate before running and what it cost after."</p>
        </header>
        <SignedIn here="/studio" children=move |_| view! { <Studio run submit job /> } />
    }
}

#[component]
fn Studio(
    run: ServerAction<StudioRun>,
    submit: ServerAction<StudioSubmit>,
    job: RwSignal<Option<StudioJob>>,
) -> impl IntoView {
    let models = Resource::new(|| (), |_| studio_models());
    let listed = StoredValue::new(Vec::<StudioModel>::new());
    let info = expect_context::<SiteInfoResource>();
    let model = RwSignal::new("fal-ai/flux/schnell".to_string());
    let video = RwSignal::new(false);
    let count = RwSignal::new(1u32);
    let prompt = RwSignal::new(String::new());
    let simulate = RwSignal::new(false);
    // A finished job changes the balance, so the estimate is asked again.
    let jobs_done = Memo::new(move |_| job.with(|j| j.as_ref().filter(|j| j.finished()).map(|j| j.job_id.clone())));
    let estimate = Resource::new(
        move || (model.get(), count.get(), run.version().get(), jobs_done.get()),
        |(m, n, _, _)| studio_estimate(m, n.to_string()),
    );
    let busy = move || {
        run.pending().get() || submit.pending().get() || job.with(|j| j.as_ref().is_some_and(|j| !j.finished()))
    };
    let start = move |_| {
        // Not disabled while running, so focus stays on the button (and comes back to it
        // when the billing gate closes); a second click just waits.
        if busy() {
            return;
        }
        let simulate_failure = simulate.get_untracked().then(|| "server_error".to_string());
        if video.get_untracked() {
            submit.dispatch(StudioSubmit {
                endpoint_id: model.get_untracked(),
                prompt: prompt.get_untracked(),
                simulate_failure,
                sandbox_queue_ms: None,
                sandbox_run_ms: None,
            });
        } else {
            run.dispatch(StudioRun {
                endpoint_id: model.get_untracked(),
                prompt: prompt.get_untracked(),
                num_images: count.get_untracked().to_string(),
                simulate_failure,
            });
        }
    };
    let error = move || {
        let failed = if video.get() {
            submit.value().get().and_then(Result::err)
        } else {
            run.value().get().and_then(Result::err)
        };
        match failed {
            Some(AppError::InsufficientCredits { .. }) | None => None,
            Some(e) => Some(e.to_string()),
        }
    };
    view! {
        <section class="card studio" aria-labelledby="studio-form-title">
            <h2 id="studio-form-title" class="visually-hidden">"New image"</h2>
            <div class="studio__row">
                <div class="field">
                    <label for="studio-model">"Model"</label>
                    <Suspense fallback=|| view! { <select id="studio-model" disabled=true><option>"Loading…"</option></select> }>
                        {move || Suspend::new(async move {
                            let list = models.await.unwrap_or_default();
                            listed.set_value(list.clone());
                            let choose = move |ev| {
                                let id = event_target_value(&ev);
                                let is_video = listed.with_value(|l| l.iter().any(|m| m.endpoint_id == id && m.category == "video"));
                                video.set(is_video);
                                model.set(id);
                            };
                            let (images, videos): (Vec<_>, Vec<_>) = list.into_iter().partition(|m| m.category != "video");
                            let options = move |group: Vec<StudioModel>| group.into_iter().map(|m| {
                                let selected = m.endpoint_id == model.get_untracked();
                                view! {
                                    <option value=m.endpoint_id.clone() selected=selected>
                                        {format!("{} ({} per {})", m.endpoint_id, m.unit_price, m.unit)}
                                    </option>
                                }
                            }).collect_view();
                            view! {
                                <select id="studio-model" on:change=choose>
                                    <optgroup label="Images">{options(images)}</optgroup>
                                    <optgroup label="Video (queued)">{options(videos)}</optgroup>
                                </select>
                            }
                        })}
                    </Suspense>
                </div>
                <div class="field" hidden=move || video.get()>
                    <label for="studio-count">"Images"</label>
                    <select id="studio-count" on:change=move |ev| count.set(event_target_value(&ev).parse().unwrap_or(1))>
                        {(1..=4).map(|n| view! { <option value=n.to_string() selected=n == 1>{n.to_string()}</option> }).collect_view()}
                    </select>
                </div>
            </div>
            <div class="field">
                <label for="studio-prompt">"Prompt"</label>
                <textarea
                    id="studio-prompt"
                    rows="3"
                    placeholder="A lighthouse at dusk, oil painting"
                    prop:value=move || prompt.get()
                    on:input=move |ev| prompt.set(event_target_value(&ev))
                ></textarea>
            </div>
            <p class="studio__estimate" data-testid="estimate" aria-live="polite">
                <Transition fallback=|| view! { <span>"Estimating…"</span> }>
                    {move || Suspend::new(async move {
                        let text = match estimate.await {
                            Ok(e) if e.paid_with == "own_key" => format!(
                                "Estimated {} at the provider's price: paid with your own key, no credits used.",
                                e.cost
                            ),
                            Ok(e) if !e.affordable => {
                                format!("Estimated cost: {}. That is more than your available credits.", e.cost)
                            }
                            Ok(e) => format!("Estimated cost: {} from your credits.", e.cost),
                            Err(e) => e.to_string(),
                        };
                        view! { <span>{text}</span> }
                    })}
                </Transition>
            </p>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let sandbox = info.await.map(|i| i.sandbox).unwrap_or(false);
                    sandbox.then(|| view! {
                        <label class="checkbox">
                            <input type="checkbox" prop:checked=move || simulate.get() on:change=move |ev| simulate.set(event_target_checked(&ev)) />
                            " Simulate a provider failure (sandbox)"
                        </label>
                    })
                })}
            </Suspense>
            <div class="studio__actions">
                <button
                    type="button"
                    class="btn btn--primary"
                    on:click=start
                    disabled=move || prompt.with(|p| p.trim().is_empty())
                    aria-busy=move || busy().to_string()
                >
                    {move || match (busy(), video.get()) {
                        (true, _) => "Generating…",
                        (false, true) => "Generate video",
                        (false, false) => "Generate",
                    }}
                </button>
            </div>
            <div role="alert">{move || error().map(|m| view! { <p class="notice notice--error">{m}</p> })}</div>
        </section>
        {move || if video.get() {
            job.get().map(|j| view! { <JobView job=j /> }.into_any())
        } else {
            run.value().get().and_then(Result::ok).map(|r| view! { <RunResult result=r /> }.into_any())
        }}
    }
}

/// A queued job: where it stands while it runs, then its result and cost.
#[component]
fn JobView(job: StudioJob) -> impl IntoView {
    let status = match job.status.as_str() {
        "queued" => match job.queue_position {
            Some(0) => "Queued: next in line.".to_string(),
            Some(n) => format!("Queued: {n} ahead in the provider's queue."),
            None => "Queued with the provider.".to_string(),
        },
        "running" => match &job.progress {
            Some(p) => format!("Running: {p}"),
            None => "Running.".to_string(),
        },
        "succeeded" => {
            let cost = job.cost.unwrap_or(job.charged);
            if job.paid_with == "own_key" {
                format!("Done. Cost {cost} at the provider's price: paid with your own key, no credits used.")
            } else {
                format!("Done. Cost {}, charged to your credits (estimated {}).", job.charged, job.cost_estimate)
            }
        }
        _ => job.error.clone().unwrap_or_else(|| "The job failed. Nothing was charged.".into()),
    };
    let running = !job.finished();
    let failed = job.status == "failed";
    view! {
        <section class="card" aria-labelledby="job-title" data-testid="job" data-status=job.status.clone()>
            <h2 id="job-title">{if running { "In progress" } else if failed { "Failed" } else { "Result" }}</h2>
            <p data-testid="job-status" role="status" aria-live="polite" class:notice=failed class:notice--error=failed>{status}</p>
            {running.then(|| view! { <progress class="studio__progress" aria-label="Job progress"></progress> })}
            {(!running && !failed).then(|| view! {
                <p class="muted small">{format!("Estimated {} before it ran.", job.cost_estimate)}</p>
            })}
            <div class="studio__images">
                {job.media.into_iter().enumerate().map(|(i, m)| media_view(i, m)).collect_view()}
            </div>
            <p class="muted small">{format!("Job {}", job.job_id)}</p>
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
fn RunResult(result: StudioResult) -> impl IntoView {
    let paid = if result.paid_with == "own_key" {
        format!("Cost {} at the provider's price: paid with your own key, no credits used.", result.cost)
    } else {
        format!("Cost {}, charged to your credits (estimated {}).", result.charged, result.cost_estimate)
    };
    view! {
        <section class="card" aria-labelledby="result-title">
            <h2 id="result-title">"Result"</h2>
            <p data-testid="run-cost" role="status">{paid}</p>
            <div class="studio__images">
                {result.images.into_iter().enumerate().map(|(i, url)| view! {
                    <img src=url alt=format!("Generated image {}", i + 1) loading="lazy" />
                }).collect_view()}
            </div>
            <p class="muted small">{format!("Request {}", result.request_id)}</p>
        </section>
    }
}
