//! The sandbox's stand-in for OpenRouter's consent page, so connecting OpenRouter can be
//! tried end to end without an OpenRouter account. Served only in sandbox mode.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::keys::sandbox_openrouter_consent;
use crate::ui::components::error_page::ErrorPage;

#[component]
pub fn SandboxOpenRouterConsent() -> impl IntoView {
    let query = use_query_map();
    let consent = Resource::new(
        move || {
            query.with(|q| {
                (
                    q.get("callback_url").unwrap_or_default(),
                    q.get("code_challenge").unwrap_or_default(),
                    q.get("code_challenge_method").unwrap_or_default(),
                )
            })
        },
        |(callback, challenge, method)| sandbox_openrouter_consent(callback, challenge, method),
    );
    view! {
        <Title text="Authorize · OpenRouter (sandbox)" />
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match consent.await {
                    Ok(c) => view! {
                        <section class="card consent" aria-labelledby="consent-title">
                            <p class="badge badge--sandbox">"Sandbox: this page stands in for openrouter.ai"</p>
                            <h1 id="consent-title">"Authorize Tollgate"</h1>
                            <p>
                                "Tollgate is asking to connect to your OpenRouter account. It will receive an API key \
                                 that pays for your OpenRouter calls from your OpenRouter credits."
                            </p>
                            <div class="consent__actions">
                                <a class="btn btn--primary" rel="external" href=c.allow_url>"Authorize"</a>
                                <a class="btn" rel="external" href=c.deny_url>"Deny"</a>
                            </div>
                        </section>
                    }.into_any(),
                    Err(e) => view! { <ErrorPage error=e /> }.into_any(),
                }
            })}
        </Suspense>
    }
}
