//! Studio: pick a model, write a prompt, see the estimate, run it, see what it cost.

mod controls;
mod results;

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::studio::{
    StudioJob, StudioModel, StudioRun, StudioSubmit, studio_estimate, studio_job_status, studio_models,
};
use crate::shared::dto::keys::Provider;
use crate::shared::error::AppError;
use crate::ui::components::billing_gate::use_notifier;
use crate::ui::components::frame::SignedIn;
use crate::ui::context::SiteInfoResource;
use controls::{EstimateLine, ModelField, SimulateToggle, StudioActions};
use results::{JobView, RunResult};

#[component]
pub fn StudioPage() -> impl IntoView {
    // Outside the signed-in section, which is drawn again when the account reloads.
    let run = ServerAction::<StudioRun>::new();
    let submit = ServerAction::<StudioSubmit>::new();
    let job = RwSignal::new(None::<StudioJob>);
    let notifier = use_notifier();
    Effect::new(move |_| {
        if let Some(Err(e @ (AppError::InsufficientCredits { .. } | AppError::OverBudget { .. }))) = run.value().get() {
            // The Studio's models are fal.ai's.
            notifier.error(&e, Some(Provider::Fal));
        }
    });
    Effect::new(move |_| match submit.value().get() {
        Some(Err(e @ (AppError::InsufficientCredits { .. } | AppError::OverBudget { .. }))) => {
            notifier.error(&e, Some(Provider::Fal))
        }
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
        <SignedIn here="/studio" children=move |account| view! { <Studio run submit job read=crate::ui::live::LiveBalance::of(&account) /> } />
    }
}

#[component]
fn Studio(
    run: ServerAction<StudioRun>,
    submit: ServerAction<StudioSubmit>,
    job: RwSignal<Option<StudioJob>>,
    /// The balance as the page read it; the live stream's is newer once an event arrives.
    read: crate::ui::live::LiveBalance,
) -> impl IntoView {
    // Money moved anywhere (another tab, the API, a finished job) shows here at once.
    let live = expect_context::<crate::ui::live::Live>();
    let models = Resource::new(|| (), |_| studio_models());
    let listed = StoredValue::new(Vec::<StudioModel>::new());
    let info = expect_context::<SiteInfoResource>();
    let model = RwSignal::new("fal-ai/flux/schnell".to_string());
    let video = RwSignal::new(false);
    let count = RwSignal::new(1u32);
    let prompt = RwSignal::new(String::new());
    let simulate = RwSignal::new(false);
    let choices = Choices { model, video, count, prompt, simulate };
    #[cfg(feature = "hydrate")]
    draft::keep(choices);
    // A finished job changes the balance, so the estimate is asked again.
    let jobs_done = Memo::new(move |_| job.with(|j| j.as_ref().filter(|j| j.finished()).map(|j| j.job_id.clone())));
    let estimate = Resource::new(
        move || (model.get(), count.get(), run.version().get(), jobs_done.get(), live.version.get()),
        |(m, n, _, _, _)| studio_estimate(m, n.to_string()),
    );
    view! {
        <section class="card studio" aria-labelledby="studio-form-title">
            <h2 id="studio-form-title" class="visually-hidden">"New image"</h2>
            <div class="studio__row">
                <ModelField models listed model video />
                <div class="field" hidden=move || video.get()>
                    <label for="studio-count">"Images"</label>
                    <select id="studio-count" prop:value=move || count.get().to_string() on:change=move |ev| count.set(event_target_value(&ev).parse().unwrap_or(1))>
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
            <p class="studio__balance">
                "Available credits: "
                <a href="/credits" data-testid="studio-balance">{move || live.now(read).available.format()}</a>
            </p>
            <EstimateLine estimate />
            <SimulateToggle info simulate />
            <StudioActions run submit job choices />
            <noscript>
                <p class="notice notice--warn">"The Studio runs in the browser: turn on JavaScript to generate."</p>
            </noscript>
        </section>
        {move || if video.get() {
            job.get().map(|j| view! { <JobView job=j /> }.into_any())
        } else {
            run.value().get().and_then(Result::ok).map(|r| view! { <RunResult result=r /> }.into_any())
        }}
    }
}

/// What the form holds: the model, whether it makes videos, how many images, the prompt
/// and whether the sandbox should fail the run.
#[derive(Clone, Copy)]
struct Choices {
    model: RwSignal<String>,
    video: RwSignal<bool>,
    count: RwSignal<u32>,
    prompt: RwSignal<String>,
    simulate: RwSignal<bool>,
}

/// The form as it was left (model, count, prompt), kept in the tab's session storage: a
/// person sent to buy credits or add a key by the billing gate finds it again when they
/// come back with "Continue where you left off".
#[cfg(feature = "hydrate")]
mod draft {
    use leptos::prelude::*;
    use serde::{Deserialize, Serialize};

    use super::Choices;

    const KEY: &str = "tollgate.studio.draft";

    #[derive(Serialize, Deserialize)]
    struct Draft {
        model: String,
        video: bool,
        count: u32,
        prompt: String,
    }

    fn storage() -> Option<leptos::web_sys::Storage> {
        window().session_storage().ok().flatten()
    }

    /// Puts the saved draft back once the page is alive, then saves every change.
    pub(super) fn keep(choices: Choices) {
        let Choices { model, video, count, prompt, .. } = choices;
        let restored = StoredValue::new(false);
        Effect::new(move |_| {
            let now = Draft { model: model.get(), video: video.get(), count: count.get(), prompt: prompt.get() };
            let Some(storage) = storage() else { return };
            if !restored.get_value() {
                restored.set_value(true);
                let saved = storage.get_item(KEY).ok().flatten().and_then(|t| serde_json::from_str::<Draft>(&t).ok());
                if let Some(d) = saved {
                    model.set(d.model);
                    video.set(d.video);
                    count.set(d.count.clamp(1, 4));
                    prompt.set(d.prompt);
                    return;
                }
            }
            if let Ok(text) = serde_json::to_string(&now) {
                let _ = storage.set_item(KEY, &text);
            }
        });
    }
}
