//! Studio: pick a model, write a prompt, see the estimate, run it, see what it cost.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::studio::{StudioResult, StudioRun, studio_estimate, studio_models};
use crate::app::SiteInfoResource;
use crate::components::billing_gate::use_notifier;
use crate::components::frame::SignedIn;
use crate::error::AppError;

#[component]
pub fn StudioPage() -> impl IntoView {
    // Outside the signed-in section, which is drawn again when the account reloads.
    let run = ServerAction::<StudioRun>::new();
    let notifier = use_notifier();
    Effect::new(move |_| {
        if let Some(Err(e @ AppError::InsufficientCredits { .. })) = run.value().get() {
            notifier.error(&e);
        }
    });
    view! {
        <Title text="Studio" />
        <header class="page-header">
            <h1>"Studio"</h1>
            <p class="lead">"Generate images. You see the estimate before running and what it cost after."</p>
        </header>
        <SignedIn here="/studio" children=move |_| view! { <Studio run /> } />
    }
}

#[component]
fn Studio(run: ServerAction<StudioRun>) -> impl IntoView {
    let models = Resource::new(|| (), |_| studio_models());
    let info = expect_context::<SiteInfoResource>();
    let model = RwSignal::new("fal-ai/flux/schnell".to_string());
    let count = RwSignal::new(1u32);
    let prompt = RwSignal::new(String::new());
    let simulate = RwSignal::new(false);
    let estimate =
        Resource::new(move || (model.get(), count.get(), run.version().get()), |(m, n, _)| studio_estimate(m, n));
    let start = move |_| {
        // Not disabled while running, so focus stays on the button (and comes back to it
        // when the billing gate closes); a second click just waits.
        if run.pending().get_untracked() {
            return;
        }
        run.dispatch(StudioRun {
            endpoint_id: model.get_untracked(),
            prompt: prompt.get_untracked(),
            num_images: count.get_untracked(),
            simulate_failure: simulate.get_untracked().then(|| "server_error".to_string()),
        });
    };
    let error = move || match run.value().get() {
        Some(Err(AppError::InsufficientCredits { .. })) | None | Some(Ok(_)) => None,
        Some(Err(e)) => Some(e.to_string()),
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
                            view! {
                                <select id="studio-model" on:change=move |ev| model.set(event_target_value(&ev))>
                                    {list.into_iter().map(|m| {
                                        let selected = m.endpoint_id == model.get_untracked();
                                        view! {
                                            <option value=m.endpoint_id.clone() selected=selected>
                                                {format!("{} ({} per {})", m.endpoint_id, m.unit_price, m.unit)}
                                            </option>
                                        }
                                    }).collect_view()}
                                </select>
                            }
                        })}
                    </Suspense>
                </div>
                <div class="field">
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
                    aria-busy=move || run.pending().get().to_string()
                >
                    {move || if run.pending().get() { "Generating…" } else { "Generate" }}
                </button>
            </div>
            <div role="alert">{move || error().map(|m| view! { <p class="notice notice--error">{m}</p> })}</div>
        </section>
        {move || run.value().get().and_then(Result::ok).map(|r| view! { <RunResult result=r /> })}
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
