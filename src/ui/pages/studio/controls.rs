//! The Studio form's parts: the model picker, the estimate, the sandbox's failure switch
//! and the Generate button.

use leptos::prelude::*;

use crate::shared::states::PaidWith;

use super::Choices;
use crate::api::studio::{RunEstimate, StudioJob, StudioModel, StudioRun, StudioSubmit};
use crate::shared::error::AppError;
use crate::ui::context::SiteInfoResource;

/// The model picker, images and videos in their own groups. Choosing a video model
/// switches the Studio to queued jobs.
#[component]
pub(super) fn ModelField(
    models: Resource<Result<Vec<StudioModel>, AppError>>,
    listed: StoredValue<Vec<StudioModel>>,
    model: RwSignal<String>,
    video: RwSignal<bool>,
) -> impl IntoView {
    view! {
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
                            <option value=m.endpoint_id.clone() selected=selected title=m.endpoint_id.clone()>
                                {format!("{} ({} per {})", m.name, m.unit_price, m.unit.replace('_', " "))}
                            </option>
                        }
                    }).collect_view();
                    view! {
                        <select id="studio-model" prop:value=move || model.get() on:change=choose>
                            <optgroup label="Images">{options(images)}</optgroup>
                            <optgroup label="Video (queued)">{options(videos)}</optgroup>
                        </select>
                    }
                })}
            </Suspense>
        </div>
    }
}

/// What the run would cost, asked again whenever the model, the count or the balance
/// changes.
#[component]
pub(super) fn EstimateLine(estimate: Resource<Result<RunEstimate, AppError>>) -> impl IntoView {
    view! {
        <p class="studio__estimate" data-testid="estimate" aria-live="polite">
            <Transition fallback=|| view! { <span>"Estimating…"</span> }>
                {move || Suspend::new(async move {
                    let text = match estimate.await {
                        Ok(e) if e.paid_with == PaidWith::OwnKey => format!(
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
    }
}

/// In the sandbox, a checkbox that makes the next run fail at the provider.
#[component]
pub(super) fn SimulateToggle(info: SiteInfoResource, simulate: RwSignal<bool>) -> impl IntoView {
    view! {
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
    }
}

/// The Generate button, and what went wrong with the last run (short of credits too: it
/// stays said here after the billing gate is closed).
#[component]
pub(super) fn StudioActions(
    run: ServerAction<StudioRun>,
    submit: ServerAction<StudioSubmit>,
    job: RwSignal<Option<StudioJob>>,
    choices: Choices,
) -> impl IntoView {
    let Choices { video, prompt, .. } = choices;
    let busy = move || {
        run.pending().get() || submit.pending().get() || job.with(|j| j.as_ref().is_some_and(|j| !j.finished()))
    };
    let start = move |_| {
        // Not disabled while running, so focus stays on the button (and comes back to it
        // when the billing gate closes); a second click just waits.
        if busy() {
            return;
        }
        choices.dispatch(run, submit);
    };
    let error = move || {
        let failed = if video.get() {
            submit.value().get().and_then(Result::err)
        } else {
            run.value().get().and_then(Result::err)
        };
        failed.map(|e| e.to_string())
    };
    view! {
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
    }
}

impl Choices {
    /// Starts a run with what the form holds: queued for a video model, else at once.
    fn dispatch(self, run: ServerAction<StudioRun>, submit: ServerAction<StudioSubmit>) {
        let Choices { model, video, count, prompt, simulate } = self;
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
    }
}
